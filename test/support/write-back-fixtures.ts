/**
 * One rollback for the write-back tests of every source: the bad commit changed the summarizer's
 * prompt and added a prompt file; the write-back puts the good endpoint back and deletes the prompt.
 */
export const SUMMARIZER = 'endpoints/summarizer.yaml';
export const NEW_PROMPT = 'prompts/new.yaml';
export const GOOD = 'kind: Endpoint\nmetadata:\n  name: summarizer\nspec:\n  prompt: summarize-v1\n';
export const BAD = 'kind: Endpoint\nmetadata:\n  name: summarizer\nspec:\n  prompt: summarize-v2\n';
export const NEW = 'kind: Prompt\nmetadata:\n  name: summarize-v2\n';
export const TITLE = 'Roll back prod/summarizer: summarizer-5xx went into ALARM';
export const BODY =
  'Ballast rolled prod/summarizer back to the last good commit.\n\nLedger: ledger/prod/summarizer/0001';

/** What `restore` and `expected` say for that rollback. */
export const RESTORE = { [SUMMARIZER]: GOOD, [NEW_PROMPT]: null };
export const EXPECTED = { [SUMMARIZER]: BAD, [NEW_PROMPT]: NEW };
