import type { GitRepository } from '../../git.ts';
import { AwsServiceError, type ServiceContext } from '../../service.ts';

/**
 * CodeCommit pull requests in the sandbox: CreatePullRequest, GetPullRequest and ListPullRequests,
 * what Ballast's rollback write-back uses (`writeBack.mode: pull-request`). A pull request is a
 * record beside the repository; its branches are the repository's own, so `sourceCommit` and
 * `destinationCommit` follow the branches while it is open, as on CodeCommit.
 *
 * Shapes and error names: CodeCommit API Reference, CreatePullRequest / GetPullRequest /
 * ListPullRequests, and the Target and PullRequest data types. Limits: the title is at most 150
 * characters and the description at most 10,240 (CreatePullRequest's length constraints), at most
 * 1,000 open pull requests per repository (MaximumOpenPullRequestsExceededException).
 */

const MAX_TITLE_CHARS = 150;
const MAX_DESCRIPTION_CHARS = 10_240;
const MAX_OPEN_PULL_REQUESTS = 1000;
/** ListPullRequests' page size when `maxResults` is not given, and the most it accepts. */
const PULL_REQUEST_PAGE_SIZE = 100;
const MAX_PULL_REQUEST_PAGE_SIZE = 1000;

export const PULL_REQUEST_STATE_CHANGE = 'CodeCommit Pull Request State Change';

type Input = Record<string, unknown>;

/** What the pull-request operations need of a served repository. */
export interface PullRequestRepository {
  readonly name: string;
  readonly git: GitRepository;
}

export interface PullRequestDeps {
  readonly ctx: ServiceContext;
  readonly callerUserArn: string;
  /** The repository `input.repositoryName` names, or the AWS error for a missing/invalid/unknown name. */
  repositoryOf(input: Input): Promise<PullRequestRepository>;
  defaultBranch(repository: PullRequestRepository): Promise<string | undefined>;
  isValidBranchName(name: string): boolean;
  encodeToken(offset: number, key: string): string;
  /** The offset a continuation token stands for; InvalidContinuationTokenException when it is not ours. */
  decodeToken(token: string | undefined, key: string): number;
}

interface StoredTarget {
  readonly repositoryName: string;
  /** Branch names (short); the API answers with `refs/heads/<name>`. */
  readonly source: string;
  readonly destination: string;
  sourceCommit: string;
  destinationCommit: string;
  mergeBase: string | undefined;
}

interface StoredPullRequest {
  readonly pullRequestId: string;
  readonly title: string;
  readonly description: string | undefined;
  readonly creationDate: number;
  readonly lastActivityDate: number;
  readonly status: 'OPEN' | 'CLOSED';
  readonly authorArn: string;
  readonly clientRequestToken: string;
  readonly revisionId: string;
  readonly target: StoredTarget;
  readonly repository: PullRequestRepository;
  /** The request's parameters, to answer a replayed clientRequestToken or refuse a changed one. */
  readonly fingerprint: string;
}

const fail = (code: string, message: string): AwsServiceError => new AwsServiceError(code, message);

function epochSeconds(ms: number): number {
  return Math.floor(ms) / 1000;
}

export function createPullRequestOperations(deps: PullRequestDeps) {
  const { ctx } = deps;
  /** By id; ids are numbers counting up across the account's repositories, as CodeCommit's are. */
  const pullRequests = new Map<string, StoredPullRequest>();
  const byToken = new Map<string, StoredPullRequest>();
  let lastId = 0;

  /**
   * A target's reference, as a branch name: `main` or `refs/heads/main`. A tag, a commit id or any
   * other kind of reference is ReferenceTypeNotSupportedException; a branch that does not exist is
   * ReferenceDoesNotExistException.
   */
  async function branchOf(
    repository: PullRequestRepository,
    raw: unknown,
    field: string,
  ): Promise<{ name: string; commit: string }> {
    if (typeof raw !== 'string' || raw.length === 0) {
      throw fail('ReferenceNameRequiredException', `A reference name is required, but none was provided (${field}).`);
    }
    let name = raw;
    if (raw.startsWith('refs/')) {
      if (!raw.startsWith('refs/heads/')) {
        throw fail('ReferenceTypeNotSupportedException', `The specified reference is not a supported type: ${raw}`);
      }
      name = raw.slice('refs/heads/'.length);
    }
    if (!deps.isValidBranchName(name)) {
      throw fail('InvalidReferenceNameException', `The specified reference name format is not valid: ${raw}`);
    }
    const commit = await repository.git.branchHead(name);
    if (commit) return { name, commit };
    if ((await repository.git.resolveCommit(`refs/tags/${name}`)) !== undefined) {
      throw fail('ReferenceTypeNotSupportedException', `The specified reference is a tag, not a branch: ${raw}`);
    }
    throw fail('ReferenceDoesNotExistException', `The specified reference does not exist: ${raw}`);
  }

  async function mergeBaseOf(git: GitRepository, a: string, b: string): Promise<string | undefined> {
    const result = await git.run(['merge-base', a, b], { okExitCodes: [1] });
    const id = result.stdout.toString('utf8').trim();
    return result.exitCode === 0 && id ? id : undefined;
  }

  /** An open pull request's commits follow its branches (a deleted branch keeps the last one seen). */
  async function refresh(pr: StoredPullRequest): Promise<void> {
    if (pr.status !== 'OPEN') return;
    const { git } = pr.repository;
    const source = await git.branchHead(pr.target.source);
    const destination = await git.branchHead(pr.target.destination);
    if (source) pr.target.sourceCommit = source;
    if (destination) pr.target.destinationCommit = destination;
    if (source || destination) {
      pr.target.mergeBase = await mergeBaseOf(git, pr.target.sourceCommit, pr.target.destinationCommit);
    }
  }

  function output(pr: StoredPullRequest): Record<string, unknown> {
    const t = pr.target;
    return {
      pullRequestId: pr.pullRequestId,
      title: pr.title,
      ...(pr.description !== undefined ? { description: pr.description } : {}),
      lastActivityDate: epochSeconds(pr.lastActivityDate),
      creationDate: epochSeconds(pr.creationDate),
      pullRequestStatus: pr.status,
      authorArn: pr.authorArn,
      clientRequestToken: pr.clientRequestToken,
      revisionId: pr.revisionId,
      approvalRules: [],
      pullRequestTargets: [
        {
          repositoryName: t.repositoryName,
          sourceReference: `refs/heads/${t.source}`,
          destinationReference: `refs/heads/${t.destination}`,
          sourceCommit: t.sourceCommit,
          destinationCommit: t.destinationCommit,
          ...(t.mergeBase ? { mergeBase: t.mergeBase } : {}),
          mergeMetadata: { isMerged: false },
        },
      ],
    };
  }

  async function createPullRequest(input: Input): Promise<unknown> {
    const title = input.title;
    if (typeof title !== 'string' || title.length === 0) {
      throw fail('TitleRequiredException', 'A pull request title is required. It cannot be empty or null.');
    }
    if (title.length > MAX_TITLE_CHARS) {
      throw fail(
        'InvalidTitleException',
        `The title of the pull request is longer than ${MAX_TITLE_CHARS} characters.`,
      );
    }
    const description = input.description;
    if (description !== undefined && description !== null && typeof description !== 'string') {
      throw fail('InvalidDescriptionException', 'The pull request description is not valid.');
    }
    if (typeof description === 'string' && description.length > MAX_DESCRIPTION_CHARS) {
      throw fail(
        'InvalidDescriptionException',
        `The pull request description is longer than ${MAX_DESCRIPTION_CHARS} characters.`,
      );
    }
    const token = input.clientRequestToken;
    if (token === undefined || token === null || token === '') {
      throw fail('ClientRequestTokenRequiredException', 'A client request token is required.');
    }
    if (typeof token !== 'string' || token.length > 256) {
      throw fail('InvalidClientRequestTokenException', 'The client request token is not valid.');
    }
    const targets = input.targets;
    if (targets === undefined || targets === null) {
      throw fail('TargetsRequiredException', 'An array of target objects is required. It cannot be empty or null.');
    }
    if (!Array.isArray(targets)) {
      throw fail('InvalidTargetsException', 'The targets for the pull request are not a list of target objects.');
    }
    if (targets.length === 0) {
      throw fail('TargetsRequiredException', 'An array of target objects is required. It cannot be empty or null.');
    }
    const names = new Set(targets.map((t) => (typeof t === 'object' && t !== null ? (t as Input).repositoryName : t)));
    if (names.size > 1) {
      throw fail('MultipleRepositoriesInPullRequestException', 'You cannot include more than one repository.');
    }
    if (targets.length > 1) {
      throw fail('InvalidTargetsException', 'A pull request has one target (one source and one destination branch).');
    }
    const target = targets[0];
    if (typeof target !== 'object' || target === null || Array.isArray(target)) {
      throw fail('TargetRequiredException', 'A pull request target is required. It cannot be empty or null.');
    }
    const targetInput = target as Input;
    const repository = await deps.repositoryOf(targetInput);
    const source = await branchOf(repository, targetInput.sourceReference, 'sourceReference');
    const destinationRaw = targetInput.destinationReference ?? (await deps.defaultBranch(repository));
    const destination = await branchOf(repository, destinationRaw, 'destinationReference');
    if (source.name === destination.name) {
      throw fail(
        'SourceAndDestinationAreSameException',
        'The source branch and destination branch for the pull request are the same.',
      );
    }
    const fingerprint = JSON.stringify([title, description ?? null, repository.name, source.name, destination.name]);
    const replay = byToken.get(token);
    if (replay) {
      if (replay.fingerprint !== fingerprint) {
        throw fail(
          'IdempotencyParameterMismatchException',
          'The client request token is not valid. Either the token is not in a valid format, or the token has been used in a previous request and cannot be reused.',
        );
      }
      await refresh(replay);
      return { pullRequest: output(replay) };
    }
    const open = [...pullRequests.values()].filter(
      (pr) => pr.repository.name === repository.name && pr.status === 'OPEN',
    ).length;
    if (open >= MAX_OPEN_PULL_REQUESTS) {
      throw fail(
        'MaximumOpenPullRequestsExceededException',
        `The repository ${repository.name} has ${MAX_OPEN_PULL_REQUESTS} open pull requests.`,
      );
    }
    const mergeBase = await mergeBaseOf(repository.git, source.commit, destination.commit);
    // Checked again after the awaits above: a concurrent request with the same token won the race.
    const raced = byToken.get(token);
    if (raced) {
      if (raced.fingerprint !== fingerprint) {
        throw fail('IdempotencyParameterMismatchException', 'The client request token has been used before.');
      }
      return { pullRequest: output(raced) };
    }
    const now = ctx.clock.nowMs();
    lastId += 1;
    const pr: StoredPullRequest = {
      pullRequestId: String(lastId),
      title,
      description: typeof description === 'string' ? description : undefined,
      creationDate: now,
      lastActivityDate: now,
      status: 'OPEN',
      authorArn: deps.callerUserArn,
      clientRequestToken: token,
      revisionId: `${lastId}-${now}`.padEnd(64, '0'),
      target: {
        repositoryName: repository.name,
        source: source.name,
        destination: destination.name,
        sourceCommit: source.commit,
        destinationCommit: destination.commit,
        mergeBase,
      },
      repository,
      fingerprint,
    };
    pullRequests.set(pr.pullRequestId, pr);
    byToken.set(token, pr);
    ctx.events.put({
      source: 'aws.codecommit',
      detailType: PULL_REQUEST_STATE_CHANGE,
      resources: [`arn:aws:codecommit:${ctx.region}:${ctx.account}:${repository.name}`],
      detail: {
        event: 'pullRequestCreated',
        pullRequestId: pr.pullRequestId,
        pullRequestStatus: 'Open',
        repositoryNames: [repository.name],
        title,
        sourceReference: `refs/heads/${source.name}`,
        destinationReference: `refs/heads/${destination.name}`,
        sourceCommit: source.commit,
        destinationCommit: destination.commit,
        ...(mergeBase ? { mergeBase } : {}),
        isMerged: 'False',
        author: deps.callerUserArn,
        callerUserArn: deps.callerUserArn,
      },
    });
    return { pullRequest: output(pr) };
  }

  async function getPullRequest(input: Input): Promise<unknown> {
    const id = input.pullRequestId;
    if (typeof id !== 'string' || id.length === 0) {
      throw fail('PullRequestIdRequiredException', 'A pull request ID is required, but none was provided.');
    }
    if (!/^[0-9]{1,20}$/.test(id)) {
      throw fail('InvalidPullRequestIdException', `The pull request ID is not valid: ${id}`);
    }
    const pr = pullRequests.get(id);
    if (!pr) throw fail('PullRequestDoesNotExistException', `The pull request ID could not be found: ${id}`);
    await refresh(pr);
    return { pullRequest: output(pr) };
  }

  async function listPullRequests(input: Input): Promise<unknown> {
    const repository = await deps.repositoryOf(input);
    const status = input.pullRequestStatus;
    if (status !== undefined && status !== null && status !== 'OPEN' && status !== 'CLOSED') {
      throw fail(
        'InvalidPullRequestStatusException',
        'The pull request status is not valid. The only valid values are OPEN and CLOSED.',
      );
    }
    const author = input.authorArn;
    if (author !== undefined && author !== null && (typeof author !== 'string' || !author.startsWith('arn:'))) {
      throw fail('InvalidAuthorArnException', `The Amazon Resource Name (ARN) is not valid: ${String(author)}`);
    }
    const maxResults = input.maxResults;
    if (
      maxResults !== undefined &&
      maxResults !== null &&
      (!Number.isSafeInteger(maxResults) ||
        (maxResults as number) < 1 ||
        (maxResults as number) > MAX_PULL_REQUEST_PAGE_SIZE)
    ) {
      throw fail('InvalidMaxResultsException', 'The specified number of maximum results is not valid.');
    }
    const pageSize = (maxResults as number | undefined) ?? PULL_REQUEST_PAGE_SIZE;
    // Newest first.
    const ids = [...pullRequests.values()]
      .filter(
        (pr) =>
          pr.repository.name === repository.name &&
          (status === undefined || status === null || pr.status === status) &&
          (author === undefined || author === null || pr.authorArn === author),
      )
      .map((pr) => pr.pullRequestId)
      .reverse();
    const key = `pulls:${repository.name}:${String(status ?? '')}:${String(author ?? '')}`;
    const offset = deps.decodeToken(typeof input.nextToken === 'string' ? input.nextToken : undefined, key);
    const page = ids.slice(offset, offset + pageSize);
    const next = offset + page.length;
    return {
      pullRequestIds: page,
      ...(next < ids.length ? { nextToken: deps.encodeToken(next, key) } : {}),
    };
  }

  return {
    CreatePullRequest: createPullRequest,
    GetPullRequest: getPullRequest,
    ListPullRequests: listPullRequests,
  };
}
