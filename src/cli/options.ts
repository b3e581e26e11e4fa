/**
 * Command-line option tables. Each command declares its options once; the
 * node:util parser and the `--help` text are both derived from that table, so a
 * flag cannot be accepted without being documented, or documented without being
 * accepted. Pure: no I/O (the caller prints and exits).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder after the flag in help (FILE, HOST:PORT); string options only. */
  readonly value?: string;
  readonly description: string;
  readonly default?: string | boolean;
  /** Environment variable the command reads in place of this option (shown in help). */
  readonly env?: string;
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown in the synopsis as required; the command itself checks it. */
  readonly required?: boolean;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionTable = OptionTable> {
  /** How the command is invoked: "gatesvr client", "npm run nemesis --". */
  readonly invocation: string;
  readonly summary: string;
  /** What follows the options in the synopsis: "<action> [key=value ...]". */
  readonly positionals?: string;
  /** Replaces the synopsis' generated required-options part (alternatives such as "--openid ID | --session ID"). */
  readonly synopsis?: string;
  readonly options: O;
  /** Environment variables the command reads that have no flag (secrets: a flag would show in `ps`). */
  readonly environment?: Readonly<Record<string, string>>;
  readonly notes?: readonly string[];
  /** Commands reached through this one (`gatesvr <name>`), listed in its help. */
  readonly subcommands?: Readonly<Record<string, CommandSpec>>;
}

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['multiple'] extends true
    ? string[]
    : string;

/** Parsed values: options with a default are always present. */
export type OptionValues<O extends OptionTable> = {
  -readonly [K in keyof O]: O[K] extends { readonly default: string | boolean }
    ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
};

/** A command line the table does not accept. `message` is one line naming the problem. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = 'CLI_USAGE';
}

export const HELP_FLAGS: readonly string[] = ['--help', '-h'];

/** True when the arguments ask for help (before a `--` that ends the options). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => HELP_FLAGS.includes(a));
}

function parserOptions(options: OptionTable): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(options)) {
    out[name] = {
      type: o.type,
      ...(o.short === undefined ? {} : { short: o.short }),
      ...(o.multiple === undefined ? {} : { multiple: o.multiple }),
      ...(o.default === undefined ? {} : { default: o.default }),
    } as NonNullable<ParseArgsConfig['options']>[string];
  }
  return out;
}

/** One line from node:util's parse error (its messages run on with advice about `--`). */
function usageMessage(err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  const flag = quoted?.split(' ')[0] ?? '?';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `option ${flag} ${err.message.includes('argument missing') ? 'needs a value' : 'takes no value'}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted ?? '')} (it takes no arguments)`;
    default:
      return err.message.split('\n')[0]!;
  }
}

/** Parses `args` with the command's table; throws UsageError (one line) on anything the table does not accept. */
export function parseCommand<O extends OptionTable>(
  spec: CommandSpec<O>,
  args: readonly string[],
): { values: OptionValues<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: parserOptions(spec.options),
      allowPositionals: spec.positionals !== undefined,
      strict: true,
    });
    // The parser was configured from this very table, so its values have the table's shape.
    return { values: values as OptionValues<O>, positionals };
  } catch (err) {
    const e = err as Error & { code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(`${spec.invocation}: ${usageMessage(e)} (see ${spec.invocation} --help)`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** `--flag VALUE` as shown in help and the synopsis. */
export function flagLabel(name: string, o: OptionSpec): string {
  const long = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return o.short === undefined ? long : `-${o.short}, ${long}`;
}

/** The one-line synopsis: invocation, required options, [options], positionals. */
export function synopsis(spec: CommandSpec): string {
  const required =
    spec.synopsis ??
    Object.entries(spec.options)
      .filter(([, o]) => o.required)
      .map(([name, o]) => `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`)
      .join(' ');
  return [spec.invocation, required, '[options]', spec.positionals ?? ''].filter(Boolean).join(' ');
}

const WIDTH = 100;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Two columns, the second wrapped and aligned. */
function columns(rows: readonly (readonly [string, string])[]): string[] {
  const left = Math.min(Math.max(...rows.map(([l]) => l.length)) + 2, 34);
  const out: string[] = [];
  for (const [l, r] of rows) {
    const body = wrap(r, WIDTH - left - 2);
    if (l.length + 2 > left) {
      out.push(`  ${l}`);
      for (const b of body) out.push(`${' '.repeat(left + 2)}${b}`);
    } else {
      out.push(`  ${l.padEnd(left)}${body[0] ?? ''}`);
      for (const b of body.slice(1)) out.push(`${' '.repeat(left + 2)}${b}`);
    }
  }
  return out;
}

function describe(o: OptionSpec): string {
  const parts = [o.description];
  if (o.required) parts.push('(required)');
  if (o.default !== undefined && o.default !== false && o.default !== '')
    parts.push(`(default ${o.default})`);
  if (o.env !== undefined) parts.push(`(env ${o.env})`);
  return parts.join(' ');
}

/** The full `--help` text of one command. */
export function helpText(spec: CommandSpec): string {
  const rows: [string, string][] = Object.entries(spec.options).map(([name, o]) => [
    flagLabel(name, o),
    describe(o),
  ]);
  rows.push(['-h, --help', 'show this help and exit']);
  const out = [
    `usage: ${synopsis(spec)}`,
    '',
    ...wrap(spec.summary, WIDTH),
    '',
    'options:',
    ...columns(rows),
  ];
  const subs = Object.values(spec.subcommands ?? {});
  if (subs.length > 0) {
    out.push('', 'commands (each answers --help):');
    for (const sub of subs)
      out.push(`  ${synopsis(sub)}`, ...wrap(sub.summary, WIDTH - 6).map((l) => `      ${l}`));
  }
  const env = Object.entries(spec.environment ?? {});
  if (env.length > 0) out.push('', 'environment:', ...columns(env));
  for (const note of spec.notes ?? []) out.push('', ...wrap(note, WIDTH));
  return `${out.join('\n')}\n`;
}
