import { randomUUID } from 'node:crypto';

/**
 * Task tokens of callback tasks (`.waitForTaskToken`): Step Functions hands a task state a token
 * (`$$.Task.Token`), and the task stays open until someone answers the token with SendTaskSuccess or
 * SendTaskFailure, or until the task times out. aws-local-stepfunctions has no tokens, so the local
 * runner asks for one here when it runs such a task, and the sandbox's Step Functions API
 * (SendTaskSuccess, SendTaskFailure) answers it.
 *
 * A token is opaque to its holder, as on AWS; the sandbox's tokens carry the execution and state
 * they were issued for (base64url JSON) so that an answer to a task that closed can be told apart
 * from a string that never was a token.
 */

/** How a callback task was answered. */
export type TaskOutcome =
  | { readonly status: 'succeeded'; readonly output: unknown }
  | { readonly status: 'failed'; readonly error: string; readonly cause: string };

export interface IssuedTaskToken {
  readonly token: string;
  /** Settles (never rejects) when SendTaskSuccess or SendTaskFailure answers the token. */
  readonly outcome: Promise<TaskOutcome>;
  /** The task ended without an answer (it timed out, its execution stopped): later answers get TaskTimedOut. */
  close(): void;
}

/** Where the local runner gets the token of a callback task it runs. */
export interface TaskTokenIssuer {
  issueTaskToken(task: { readonly executionArn: string; readonly stateName: string }): IssuedTaskToken;
}

/** Why an answer did not reach a task: the token was never one, or its task is unknown or closed. */
export type AnswerRefusal = 'invalid' | 'unknown' | 'closed';

const PREFIX = 'AQB';

export class TaskTokens implements TaskTokenIssuer {
  private readonly open = new Map<string, (outcome: TaskOutcome) => void>();
  private readonly closed = new Set<string>();

  issueTaskToken(task: { readonly executionArn: string; readonly stateName: string }): IssuedTaskToken {
    const id = randomUUID();
    const token = `${PREFIX}${Buffer.from(JSON.stringify({ v: 1, id, execution: task.executionArn, state: task.stateName })).toString('base64url')}`;
    let settle: (outcome: TaskOutcome) => void = () => undefined;
    const outcome = new Promise<TaskOutcome>((resolve) => {
      settle = resolve;
    });
    this.open.set(id, settle);
    return {
      token,
      outcome,
      close: () => {
        if (this.open.delete(id)) this.closed.add(id);
      },
    };
  }

  /** Answers the token's task, once; a second answer finds it closed. */
  answer(token: string, outcome: TaskOutcome): AnswerRefusal | undefined {
    const id = idOf(token);
    if (id === undefined) return 'invalid';
    const settle = this.open.get(id);
    if (!settle) return this.closed.has(id) ? 'closed' : 'unknown';
    this.open.delete(id);
    this.closed.add(id);
    settle(outcome);
    return undefined;
  }
}

function idOf(token: string): string | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as {
      v?: unknown;
      id?: unknown;
    };
    return decoded.v === 1 && typeof decoded.id === 'string' ? decoded.id : undefined;
  } catch {
    return undefined;
  }
}
