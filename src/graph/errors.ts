import { StreamrollError } from '../util/errors.js';
/** One problem found in a spec, with where it is (a JSON path or a node/edge id). */
export interface SpecIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A network spec (or rollout pattern, or model file) that cannot be used.
 * `issues` lists every problem found, each naming its place; the message shows them all.
 */
export class SpecError extends StreamrollError {
  readonly issues: readonly SpecIssue[];

  /**
   * @param issues every problem found
   * @param what the kind of document, e.g. `network spec` or `rollout pattern`
   * @param source the file it came from, when there is one
   */
  constructor(issues: readonly SpecIssue[], what = 'network spec', source?: string) {
    const where = source === undefined ? '' : `${source}: `;
    const lines = issues.map((i) => `  ${i.path}: ${i.message}`);
    const head = issues.length === 1 ? `invalid ${what}` : `invalid ${what} (${issues.length} problems)`;
    super('SPEC_INVALID', `${where}${head}\n${lines.join('\n')}`);
    this.name = 'SpecError';
    this.issues = issues;
  }
}

/** Collects issues while a checker walks a document, so one run reports them all. */
export class IssueList {
  readonly items: SpecIssue[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  /** Throws a {@link SpecError} if anything was collected. */
  throwIfAny(what?: string, source?: string): void {
    if (!this.empty) throw new SpecError(this.items, what, source);
  }
}

/** Renders a value for an error message: strings quoted, everything else as JSON. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}
