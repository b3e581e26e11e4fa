/**
 * The option table of every `gatesvr` command: the one place a flag is declared.
 * Parsers (options.ts parseCommand) and `--help` texts are derived from here; the
 * gateway's own flags come from the configuration schema (FIELDS), which is also
 * what loadConfig parses them with.
 */
import { CONFIG_FILE_ENV } from '../config/load.js';
import { DEFAULTS, FIELDS, type FieldSpec, getProp } from '../config/schema.js';
import type { CommandSpec, OptionSpec, OptionTable } from './options.js';

/** Environment variable of the HS256 secret: the same one the gateway reads (auth.jwt_secret). */
export const TOKEN_SECRET_ENV = 'GATESVR_AUTH_JWT_SECRET';
/** The push API token: environment only, a flag would show it in `ps`. */
export const PUSH_TOKEN_ENV = 'GATESVR_PUSH_API_TOKEN';

const PLACEHOLDER: Partial<Record<FieldSpec['kind'], string>> = {
  addr: 'ADDR',
  path: 'FILE',
  name: 'NAME',
  natsUrl: 'URL',
  duration: 'DURATION',
  int: 'N',
};

function defaultOf(spec: FieldSpec): string | undefined {
  const v = getProp(DEFAULTS, spec.prop);
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number') return spec.kind === 'duration' ? `${v}ms` : String(v);
  return undefined;
}

function fieldOption(spec: FieldSpec): OptionSpec {
  const bool = spec.kind === 'bool';
  const value = spec.kind === 'enum' ? spec.values?.join('|') : PLACEHOLDER[spec.kind];
  const def = defaultOf(spec);
  return {
    type: bool ? 'boolean' : 'string',
    ...(bool ? {} : { value: value ?? 'VALUE' }),
    description: `${spec.doc} [${spec.path}]`,
    ...(def === undefined ? {} : { default: def }),
    env: spec.env[0]!,
  };
}

const GATEWAY_OPTIONS: OptionTable = {
  config: {
    type: 'string',
    short: 'c',
    value: 'FILE',
    description: 'YAML configuration file (docs/configuration.md).',
    env: CONFIG_FILE_ENV,
  },
  set: {
    type: 'string',
    multiple: true,
    value: 'key.path=value',
    description: 'Set any configuration key; repeatable; wins over the named flags, env and file.',
  },
  ...Object.fromEntries(FIELDS.filter((s) => s.flag !== undefined).map((s) => [s.flag!, fieldOption(s)])),
};

export const DEMO_COMMAND = {
  invocation: 'gatesvr demo-upstreams',
  summary: 'Serve the hello, business and zone demo upstreams (gRPC) on their own.',
  options: {
    host: { type: 'string', value: 'HOST', default: '127.0.0.1', description: 'Address to listen on.' },
    hello: { type: 'string', value: 'PORT', default: '8081', description: 'Port of the hello service.' },
    business: {
      type: 'string',
      value: 'PORT',
      default: '8082',
      description: 'Port of the business service.',
    },
    zone: { type: 'string', value: 'PORT', default: '8083', description: 'Port of the zone service.' },
  },
} as const satisfies CommandSpec;

export const CLIENT_COMMAND = {
  invocation: 'gatesvr client',
  summary:
    'Open a session, log in (hello) unless resumed or --no-login, call <action> with key=value headers, and print answers and notifies as JSON lines.',
  positionals: '[<action> [key=value ...]]',
  options: {
    openid: {
      type: 'string',
      value: 'ID',
      required: true,
      description: 'The openid to start the session as.',
    },
    addr: {
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:8453',
      description: 'Gateway QUIC address.',
    },
    token: {
      type: 'string',
      value: 'JWT',
      default: '',
      description: 'Auth token for START (auth.mode jwt).',
    },
    ca: { type: 'string', value: 'FILE', description: 'CA certificate (PEM) to verify the gateway with.' },
    insecure: {
      type: 'boolean',
      default: false,
      description: 'Do not verify the gateway certificate (self-signed demo gateway).',
    },
    zone: { type: 'string', value: 'N', default: '1', description: 'Zone to log in to.' },
    data: { type: 'string', value: 'TEXT', default: '', description: 'Request body of <action>.' },
    listen: {
      type: 'string',
      value: 'SECONDS',
      default: '0',
      description: 'Stay connected this long for notifies (seconds, or a duration such as 2m).',
    },
    'no-login': { type: 'boolean', default: false, description: 'Skip the hello login.' },
  },
  notes: ['Either --ca or --insecure is required.'],
} as const satisfies CommandSpec;

export const PUSH_COMMAND = {
  invocation: 'gatesvr push',
  summary: 'Push a notify to a session through the gateway gRPC GatewayService (PushToClient).',
  synopsis: '(--openid ID | --session ID)',
  options: {
    openid: { type: 'string', value: 'ID', description: 'Push to the session of this openid.' },
    session: { type: 'string', value: 'ID', description: 'Push to this session id.' },
    content: { type: 'string', value: 'TEXT', default: '', description: 'Notify content.' },
    title: { type: 'string', value: 'TEXT', default: '', description: 'Notify title.' },
    'msg-type': { type: 'string', value: 'TYPE', default: 'cli', description: 'Notify message type.' },
    'grpc-target': {
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:8092',
      description: 'Gateway push API address.',
    },
    'ca-file': { type: 'string', value: 'PEM', description: 'CA to verify a TLS push API with.' },
    'cert-file': {
      type: 'string',
      value: 'PEM',
      description: 'Client certificate for mTLS (with --key-file).',
    },
    'key-file': { type: 'string', value: 'PEM', description: 'Client private key for mTLS.' },
  },
  environment: { [PUSH_TOKEN_ENV]: 'Bearer token of the push API (push_api.token).' },
} as const satisfies CommandSpec;

export const TOKEN_COMMAND = {
  invocation: 'gatesvr token',
  summary:
    'Mint a token for auth.mode jwt: HS256 with a shared secret, or RS256 (RSA) / ES256 (EC P-256) with --key-file.',
  options: {
    openid: { type: 'string', value: 'ID', required: true, description: 'Subject (sub) of the token.' },
    ttl: { type: 'string', value: 'DURATION', default: '1h', description: 'Lifetime (exp).' },
    aud: { type: 'string', value: 'AUD', description: 'Audience (aud) claim.' },
    iss: { type: 'string', value: 'ISS', description: 'Issuer (iss) claim.' },
    'secret-file': {
      type: 'string',
      value: 'FILE',
      description: 'HS256 secret from this file (one trailing newline ignored).',
    },
    'key-file': { type: 'string', value: 'PEM', description: 'Sign RS256 or ES256 with this private key.' },
    kid: { type: 'string', value: 'K', description: 'Key id (kid) header.' },
    secret: {
      type: 'string',
      value: 'S',
      description:
        'HS256 secret on the command line: works, but shows it in ps; prefer the env or --secret-file.',
      env: TOKEN_SECRET_ENV,
    },
  },
  notes: [
    `Without --secret-file, --key-file or --secret the HS256 secret is read from ${TOKEN_SECRET_ENV}. Give at most one of them.`,
  ],
} as const satisfies CommandSpec;

/** The admin API token: environment or a file only, a flag would show it in `ps`. */
export const ADMIN_TOKEN_ENV = 'GATESVR_ADMIN_TOKEN';
export const ADMIN_URL_ENV = 'GATESVR_ADMIN_URL';
export const ADMIN_DEFAULT_URL = 'http://127.0.0.1:8080';

/** Options every admin command takes (the gateway's HTTP admin API, docs/operations.md). */
const ADMIN_OPTIONS = {
  url: {
    type: 'string',
    value: 'URL',
    description: `Base URL of the gateway's http_addr (default ${ADMIN_DEFAULT_URL}).`,
    env: ADMIN_URL_ENV,
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    description: `Admin token (admin.token) from this file (one trailing newline ignored); else ${ADMIN_TOKEN_ENV}.`,
  },
} as const satisfies OptionTable;

const ADMIN_ENVIRONMENT = {
  [ADMIN_TOKEN_ENV]:
    'Admin token (admin.token); none needed from the gateway host when the gateway has none.',
};
const ADMIN_OUTPUT_NOTE =
  'Prints a table on a terminal and JSON lines otherwise. An API error is one stderr line with the HTTP status and the API error, exit 1.';

export const SESSIONS_COMMAND = {
  invocation: 'gatesvr sessions',
  summary: 'List the live sessions of a gateway (admin API GET /admin/sessions), newest last.',
  options: {
    openid: { type: 'string', value: 'ID', description: 'Only the session of this openid.' },
    phase: { type: 'string', value: 'inited|normal', description: 'Only sessions in this phase.' },
    ...ADMIN_OPTIONS,
  },
  environment: ADMIN_ENVIRONMENT,
  notes: [ADMIN_OUTPUT_NOTE],
} as const satisfies CommandSpec;

export const SESSION_COMMAND = {
  invocation: 'gatesvr session',
  summary: 'Show one session actor snapshot with its pending pushes (GET /admin/sessions/:id).',
  positionals: '<session-id>',
  options: ADMIN_OPTIONS,
  environment: ADMIN_ENVIRONMENT,
  notes: [ADMIN_OUTPUT_NOTE],
} as const satisfies CommandSpec;

export const KICK_COMMAND = {
  invocation: 'gatesvr kick',
  summary:
    'End a session: its connection closes (code 0x00) and the session is forgotten (POST /admin/sessions/:id/kick).',
  positionals: '<session-id>',
  options: ADMIN_OPTIONS,
  environment: ADMIN_ENVIRONMENT,
  notes: [ADMIN_OUTPUT_NOTE],
} as const satisfies CommandSpec;

export const EVENTS_COMMAND = {
  invocation: 'gatesvr events',
  summary:
    'Follow the live session events (GET /admin/events, needs inspector.enabled) until interrupted: first the snapshot, then session changes and removals.',
  options: {
    openid: { type: 'string', value: 'ID', description: 'Only events of this openid.' },
    ...ADMIN_OPTIONS,
  },
  environment: ADMIN_ENVIRONMENT,
  notes: [ADMIN_OUTPUT_NOTE],
} as const satisfies CommandSpec;

/** The subcommands, by the word after `gatesvr`. */
export const SUBCOMMANDS: Readonly<Record<string, CommandSpec>> = {
  'demo-upstreams': DEMO_COMMAND,
  client: CLIENT_COMMAND,
  push: PUSH_COMMAND,
  token: TOKEN_COMMAND,
  sessions: SESSIONS_COMMAND,
  session: SESSION_COMMAND,
  kick: KICK_COMMAND,
  events: EVENTS_COMMAND,
};

export const GATEWAY_COMMAND: CommandSpec = {
  invocation: 'gatesvr',
  summary:
    'Run the gateway (docs/protocol.md section 7). Precedence, highest first: flags, GATESVR_* environment variables, the --config file, built-in defaults. Go-style single-dash flags (-quic-addr) are accepted too.',
  options: GATEWAY_OPTIONS,
  subcommands: SUBCOMMANDS,
};
