// A certified OpenID provider (panva's oidc-provider) for the SSO tests, on loopback only.
//
//   node server.mjs --port 4100 [--mode normal|wrong-audience|clock-behind|foreign-key]
//
// Static client `moatmetrics-console` (secret `console-secret`, a loopback redirect URI on
// any port, as RFC 8252 allows native clients) and accounts whose `groups` claim the console
// maps to roles. Instead of a login page, GET /interaction/:uid answers with the interaction's
// id and POST /interaction/:uid/login with `login=<account>` signs that account in and grants
// the requested scopes (login and consent at once), so tests need no browser.
//
// The modes make the provider misbehave in the ways the console must refuse, with real tokens:
//   wrong-audience  ID tokens name `reporting-app` (another client) as their audience;
//   clock-behind    the provider's clock runs ten minutes late: tokens arrive already expired;
//   foreign-key     the JWKS it publishes is not the key it signs with (a forged signature).
// Prints "listening <issuer>" once it answers.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    mode: { type: 'string', default: 'normal' },
  },
});
const MODES = ['normal', 'wrong-audience', 'clock-behind', 'foreign-key'];
if (!args.port || !MODES.includes(args.mode)) {
  console.error(`usage: node server.mjs --port N [--mode ${MODES.join('|')}]`);
  process.exit(2);
}
const issuer = `http://127.0.0.1:${args.port}`;

// Ten minutes late, with ID tokens valid for one: every token has expired (by nine minutes,
// far beyond any allowed clock skew) when it arrives, while the provider's own cookies (an
// hour) still work in the browser.
const LATE_SECONDS = 600;
if (args.mode === 'clock-behind') {
  const realNow = Date.now;
  Date.now = () => realNow() - LATE_SECONDS * 1000;
}

const ACCOUNTS = {
  alice: { email: 'alice@msp.example', name: 'Alice Admin', groups: ['msp-admins', 'staff'] },
  anna: { email: 'anna@msp.example', name: 'Anna Analyst', groups: ['msp-analysts'] },
  carol: { email: 'carol@contractor.example', name: 'Carol Contractor', groups: ['contractors'] },
};

// The key leaves the generator as PEM and is read back before its JWK export: exporting the
// generator's own key object as JWK can deadlock Node 20 when a garbage collection during the
// export destroys the finished key-generation job, which locks the same key (seen in CI: the
// provider hung before listening).
function signingJwk() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const jwk = crypto.createPrivateKey(privateKey).export({ format: 'jwk' });
  return { ...jwk, kid: 'test-signing-key', use: 'sig', alg: 'RS256' };
}

const signing = signingJwk();
const configuration = {
  clients: [
    {
      client_id: 'moatmetrics-console',
      client_secret: 'console-secret',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/console/sso/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'reporting-app',
      client_secret: 'reporting-secret',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  jwks: { keys: [signing] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  pkce: { required: () => true },
  // Claims (groups) in the ID token itself, as Entra ID, Okta and Keycloak put them when
  // configured to; not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: account.email,
          email_verified: true,
          name: account.name,
          preferred_username: id,
          groups: account.groups,
        };
      },
    };
  },
  ttl: {
    IdToken: args.mode === 'clock-behind' ? 60 : 3600,
    AccessToken: 600, AuthorizationCode: 60, Interaction: 3600, Session: 3600, Grant: 3600,
  },
  renderError(ctx, out) {
    ctx.type = 'text/plain';
    ctx.body = `${out.error}: ${out.error_description}`;
  },
};

const provider = new Provider(issuer, configuration);

if (args.mode === 'wrong-audience') {
  // Sign the ID token for another client: a real token, meant for someone else.
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function issueForAnotherClient(options) {
    this.client = await provider.Client.find('reporting-app');
    return issue.call(this, options);
  };
}

// The JWKS a foreign-key provider publishes: a key of the same id that signs nothing here.
const { kid, use, alg, n, e } = signingJwk();
const FOREIGN_JWKS = JSON.stringify({ keys: [{ kty: 'RSA', kid: signing.kid, use, alg, n, e }] });
void kid;

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET' && !action) {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ interaction: uid, prompt: details.prompt.name, login: `/interaction/${uid}/login` }));
    return;
  }
  if (req.method !== 'POST' || action !== 'login') {
    res.statusCode = 405;
    res.end();
    return;
  }
  const login = (await readForm(req)).get('login') || '';
  if (!ACCOUNTS[login]) {
    res.statusCode = 400;
    res.end(`no account ${login}`);
    return;
  }
  const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, issuer).pathname;
    const match = path.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/);
    if (match) {
      await interaction(req, res, match[1], match[2]);
      return;
    }
    if (args.mode === 'foreign-key' && path === '/jwks') {
      res.setHeader('Content-Type', 'application/jwk-set+json');
      res.end(FOREIGN_JWKS);
      return;
    }
    callback(req, res);
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});
server.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
