// A real OpenID Connect provider (node-oidc-provider) for the inbox's identity tests.
//
//   node provider.mjs '<json config>'
//
// The config names the signing key (a private JWK, so tests can also sign refused tokens with
// it), the client (confidential, and "<id>-public" with no secret) and its redirect URIs, and the API audience of JWT access tokens. The
// provider listens on a free loopback port and prints "ready <issuer>" once it answers.
// Its built-in dev login accepts any login name; the account's email is <login>@example.test.
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: config.clientId,
      client_secret: config.clientSecret,
      redirect_uris: config.redirectUris,
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }, {
      // The same inbox as a public client: no secret, PKCE alone proves the code is its own.
      client_id: `${config.clientId}-public`,
      redirect_uris: config.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }],
    jwks: { keys: [config.signingKey] },
    cookies: { keys: ['intermission-test-cookie-key'] },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id, email: `${id}@example.test`, email_verified: true, groups: ['approvers'],
      }),
    }),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    scopes: ['openid', 'email', 'groups', 'inbox'],
    // The email and groups go into the ID token, as Google, Entra and Keycloak put them there.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'inbox',
          audience: config.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  provider.proxy = false;
  server.on('request', provider.callback());
  console.log(`ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
