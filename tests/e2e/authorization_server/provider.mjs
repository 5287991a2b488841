// A real OAuth 2.1 / OpenID Connect authorization server for the e2e tests: panva's oidc-provider,
// configured (not a token issuer written for the tests). Started by tests/e2e/authorization_server.py:
//
//   node provider.mjs '<json>'
//
// where <json> is {"host", "port", "issuer", "resources": {indicator: {"scopes": [...], "format": "jwt"|"opaque",
// "ttl"?: seconds, "audience"?: string}}, "default_resource"?: indicator, "clients": {"introspection": {...},
// "credentials": {...}, "public": {...}}}. Prints one line `ready <issuer>` when listening.
//
// What it enables, and why (option names are oidc-provider's, see its docs/README.md):
// * features.resourceIndicators (RFC 8707): an access token is issued for exactly one resource, with
//   aud = the resource indicator and scope = the granted scopes that the resource defines; its format is
//   per resource: "jwt" (RS256, RFC 9068, header typ "at+jwt") or "opaque" (check by introspection).
// * features.registration: open dynamic client registration (RFC 7591), no initial access token.
//   oidc-provider 9.x accepts http://localhost / http://127.0.0.1 redirect URIs for the default
//   application_type "web" as long as the client does not use the implicit grant.
// * features.introspection (RFC 7662) for the resource server's confidential client (allowedPolicy below).
// * features.clientCredentials: the tests' own confidential client mints tokens directly.
// * pkce.required always (oidc-provider 9.x only implements S256).
// * devInteractions: the built-in login and consent pages (any login and password are accepted).
// * scopes: every resource's scopes are also listed as supported scopes, because dynamic registration
//   refuses a client `scope` metadata value naming scopes the server does not list.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { readFileSync } from 'node:fs';
import https from 'node:https';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? process.env.AUTHORIZATION_SERVER_CONFIG ?? '{}');
const { host = '127.0.0.1', port, issuer, resources = {}, clients = {}, tls } = config;
if (!port || !issuer) {
  console.error('usage: node provider.mjs \'{"port": ..., "issuer": ..., "resources": {...}}\'');
  process.exit(2);
}

// A signing key of this instance only: tokens of two instances never verify against each other.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256',
};

const supportedScopes = new Set(['openid', 'offline_access']);
for (const resource of Object.values(resources)) {
  for (const scope of resource.scopes ?? []) supportedScopes.add(scope);
}

// The fixture's own clients: these may ask for a token lifetime with the X-Test-Token-TTL header.
const ownClients = new Set([clients.credentials?.client_id, clients.public?.client_id].filter(Boolean));

function requestedTtl(ctx, client, fallback) {
  const asked = ctx?.get?.('x-test-token-ttl');
  if (asked && client && ownClients.has(client.clientId)) {
    const seconds = Number.parseInt(asked, 10);
    if (Number.isInteger(seconds) && seconds > 0) return seconds;
  }
  return fallback;
}

const staticClients = [];
if (clients.introspection) {
  // RFC 7662 "resource server only" client: no grants, no authorization endpoint.
  staticClients.push({
    client_id: clients.introspection.client_id,
    client_secret: clients.introspection.client_secret,
    token_endpoint_auth_method: clients.introspection.auth_method ?? 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  });
}
if (clients.credentials) {
  staticClients.push({
    client_id: clients.credentials.client_id,
    client_secret: clients.credentials.client_secret,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  });
}
if (clients.public) {
  staticClients.push({
    client_id: clients.public.client_id,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [clients.public.redirect_uri],
  });
}

const provider = new Provider(issuer, {
  clients: staticClients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: [...supportedScopes],
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true, initialAccessToken: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      // The resource server's client may introspect any token of this server; it must check `aud`
      // itself (that is what the tests exercise). Another confidential client only its own tokens.
      async allowedPolicy(ctx, client, token) {
        if (clients.introspection && client.clientId === clients.introspection.client_id) return true;
        return token.clientId === client.clientId && client.clientAuthMethod !== 'none';
      },
    },
    resourceIndicators: {
      enabled: true,
      // No `resource` in the request: the configured default (or the only resource); on a token
      // request with several granted resources (`oneOf`) oidc-provider's default, i.e. refuse.
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        if (config.default_resource) return config.default_resource;
        const known = Object.keys(resources);
        return known.length === 1 ? known[0] : undefined;
      },
      // A token request without `resource` gets a token for the resource granted at the authorization
      // endpoint, even when `openid` was granted too (else it would get one for the userinfo endpoint).
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(ctx, indicator) {
        const resource = resources[indicator];
        if (!resource) throw new errors.InvalidTarget(`unknown resource indicator ${indicator}`);
        const info = {
          scope: (resource.scopes ?? []).join(' '),
          accessTokenFormat: resource.format === 'opaque' ? 'opaque' : 'jwt',
        };
        if (info.accessTokenFormat === 'jwt') info.jwt = { sign: { alg: 'RS256' } };
        if (resource.ttl) info.accessTokenTTL = resource.ttl;
        if (resource.audience) info.audience = resource.audience;
        return info;
      },
    },
  },
  ttl: {
    AccessToken(ctx, token, client) {
      return requestedTtl(ctx, client, token.resourceServer?.accessTokenTTL || 60 * 60);
    },
    ClientCredentials(ctx, token, client) {
      return requestedTtl(ctx, client, token.resourceServer?.accessTokenTTL || 10 * 60);
    },
  },
});

// Each introspection request, so that tests count how many reached this server.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path.endsWith('/token/introspection')) console.log(`introspection ${ctx.status}`);
});

// Errors the client only sees as a redirect or a terse JSON body: log them for the test's output.
for (const event of [
  'server_error', 'authorization.error', 'grant.error', 'registration_create.error', 'introspection.error',
  'revocation.error', 'discovery.error', 'userinfo.error',
]) {
  provider.on(event, (ctx, error) => {
    const err = error ?? ctx;
    console.error(`${event}: ${err?.name ?? ''} ${err?.message ?? err} ${err?.error_description ?? ''}`);
  });
}

// Over TLS when given a certificate ({"tls": {"cert": PATH, "key": PATH}}), as a real issuer is served.
const ready = () => console.log(`ready ${issuer}`);
const server = tls
  ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, provider.callback())
    .listen(port, host, ready)
  : provider.listen(port, host, ready);

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
