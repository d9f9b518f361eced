import { lambdaHandler } from '../runtime/handler.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { decideRollback, type RollbackTrigger } from '../state/rollback.ts';
import { sagemakerName } from '../targets/sagemaker.ts';
import { type RollbackItem, type TriageInput, triageInput } from '../workflow/rollback-payloads.ts';
import type { Push } from '../workflow/types.ts';
import { logger, nowIso, resourcePrefix, stateStore } from './runtime.ts';

/** The most endpoints one alarm rolls back in one execution (an alarm is normally one endpoint's). */
const MAX_TARGETS = 100;

/**
 * Triage: the rollback workflow's first step. Finds the endpoints the trigger concerns (an alarm's
 * name, through the markers Record writes; or the endpoint a `ballast rollback` names) and decides
 * for each from its state alone (lambdas/state/rollback.ts). Decisions worth recording go on to the
 * Map; a duplicate event and an alarm the live version no longer declares end here, logged.
 * Read-only, so Step Functions may retry it freely.
 */
export async function triage(input: TriageInput): Promise<{ items: RollbackItem[] }> {
  const store = stateStore();
  const { event } = input;
  let trigger: RollbackTrigger;
  let targets: Array<{ environment: string; endpoint: string }>;
  let deliveryId: string;
  if ('ballast' in event) {
    trigger = {
      kind: 'manual',
      requestedBy: event.requestedBy,
      requestedAt: event.requestedAt,
      ...(event.reason ? { reason: event.reason } : {}),
      ...(event.to ? { to: event.to } : {}),
    };
    targets = [{ environment: event.environment, endpoint: event.endpoint }];
    deliveryId = input.execution;
  } else {
    if (event.detail.state.value !== 'ALARM') return { items: [] };
    const alarm = event.detail.alarmName;
    trigger = {
      kind: 'alarm',
      alarm,
      reason: event.detail.state.reason,
      at: new Date(Date.parse(event.detail.state.timestamp)).toISOString(),
    };
    const prefix = keys.alarmPrefix(alarm);
    targets = (await store.list(prefix, { limit: MAX_TARGETS })).flatMap((key) => {
      const [environment, file] = key.slice(prefix.length).split('/');
      return environment && file?.endsWith('.json') ? [{ environment, endpoint: file.slice(0, -'.json'.length) }] : [];
    });
    deliveryId = event.id;
  }
  const startedAt = trigger.kind === 'alarm' ? trigger.at : trigger.requestedAt;
  const items: RollbackItem[] = [];
  for (const target of targets) {
    const state = (await store.get<EndpointState>(keys.state(target.environment, target.endpoint)))?.value;
    const decision = decideRollback(state, trigger);
    const push = pushOf(state, deliveryId);
    if (decision.action === 'duplicate' || decision.action === 'not-declared' || !push) {
      logger.info('nothing to record', { ...target, action: decision.action, reason: decision.reason });
      continue;
    }
    items.push({
      environment: target.environment,
      endpoint: target.endpoint,
      execution: input.execution,
      push,
      trigger,
      decision:
        decision.action === 'act'
          ? { action: 'act', reason: decision.reason, from: decision.from, to: decision.to }
          : { action: decision.action, reason: decision.reason },
      startedAt,
      endpointName: sagemakerName(resourcePrefix(), target.environment, target.endpoint),
    });
  }
  logger.info('triaged', { trigger: trigger.kind, targets: targets.length, items: items.length, at: nowIso() });
  return { items };
}

/**
 * The push the rollback is answered on and recorded against: the one that brought the live
 * version (Record keeps it with `live`), else the newest push when it is the live commit.
 */
function pushOf(state: EndpointState | undefined, deliveryId: string): Push | undefined {
  const live = state?.live;
  const desired = state?.desired;
  const from =
    live?.push ??
    (desired?.source &&
    desired.repository &&
    desired.branch &&
    desired.pushedBy &&
    (!live || desired.commit === live.commit)
      ? {
          source: desired.source,
          repository: desired.repository,
          branch: desired.branch,
          pushedBy: desired.pushedBy,
          pushedAt: desired.pushedAt,
        }
      : undefined);
  const commit = live?.commit ?? desired?.commit;
  if (!from || !commit) return undefined;
  return {
    source: from.source,
    repository: from.repository,
    branch: from.branch,
    commit,
    ...('previousCommit' in from && from.previousCommit ? { previousCommit: from.previousCommit } : {}),
    pushedBy: from.pushedBy,
    pushedAt: from.pushedAt,
    deliveryId,
  };
}

export const handler = lambdaHandler(triageInput, triage, {
  keys: (input) =>
    'ballast' in input.event
      ? { environment: input.event.environment, endpoint: input.event.endpoint, trigger: 'manual' }
      : { alarm: input.event.detail.alarmName, trigger: 'alarm' },
});
