/**
 * Where the model repository lives. CodeCommit pushes arrive as EventBridge events; GitHub pushes
 * arrive as webhooks, and files are read through the GitHub REST API with a token.
 */
export type SourceConfig = CodeCommitSourceConfig | GitHubSourceConfig;

export interface CodeCommitSourceConfig {
  readonly type: 'codecommit';
  /** Name of the CodeCommit repository Ballast watches (created elsewhere, or by `createRepository`). */
  readonly repositoryName: string;
  /**
   * Create the repository with the stack. Leave false for a repository that already exists.
   * @default false
   */
  readonly createRepository?: boolean;
}

export interface GitHubSourceConfig {
  readonly type: 'github';
  /** The repository as `owner/name`. */
  readonly repository: string;
  /** Secrets Manager secret (name) holding the webhook's HMAC secret. */
  readonly webhookSecretName: string;
  /** Secrets Manager secret (name) holding a token that can read contents and write commit statuses. */
  readonly tokenSecretName: string;
  /**
   * GitHub API base URL, for GitHub Enterprise Server.
   * @default 'https://api.github.com'
   */
  readonly apiUrl?: string;
}
