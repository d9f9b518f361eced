/**
 * The client that reads (and writes) the watched repository: CodeCommit's, or GitHub's API with its
 * token from Secrets Manager. Its own module, so only the handlers that reach the repository bundle
 * those clients.
 */
import { codecommit } from '../aws/codecommit.ts';
import { optionalSetting, setting } from '../runtime/environment.ts';
import { gitHubTokens } from './answer.ts';
import type { WriteBackClients } from './write-back.ts';

export async function repositoryClients(source: 'codecommit' | 'github'): Promise<WriteBackClients> {
  if (source === 'codecommit') return { codecommit: codecommit() };
  const token = await gitHubTokens.get(setting('BALLAST_GITHUB_TOKEN_SECRET_NAME'));
  return {
    github: { apiUrl: optionalSetting('BALLAST_GITHUB_API_URL') ?? 'https://api.github.com', token: token.value },
  };
}
