// A real OpenID Provider for the single sign-on spec: panva's oidc-provider over HTTPS on
// 127.0.0.1, with its built-in development login form (any password), the people and the one
// client the spec describes in a JSON file (its only argument; the file holds the client secret,
// so it is 0600 and never on a command line). Prints `{"issuer": …}` once it listens, and nothing
// else on standard output.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

import Provider from "oidc-provider";

const settings = JSON.parse(readFileSync(process.argv[2], "utf8"));
/** @type {Record<string, Record<string, string | boolean>>} login → claims (preferred_username,
 * name, email, email_verified) */
const people = settings.people;

const server = createServer({ cert: readFileSync(settings.cert), key: readFileSync(settings.key) });
// Port 0, then the issuer from the port the kernel gave: no race for a free port.
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `https://127.0.0.1:${server.address().port}`;

// A signing key of this run's own, rather than the library's development keys (which it warns
// about at every start).
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
      redirect_uris: settings.redirectUris,
      post_logout_redirect_uris: settings.postLogoutRedirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: {
    openid: ["sub"],
    profile: ["preferred_username", "name"],
    email: ["email", "email_verified"],
  },
  scopes: ["openid", "profile", "email"],
  cookies: { keys: [randomBytes(32).toString("hex")] },
  jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), alg: "RS256", use: "sig", kid: "sso-spec" }] },
  // The login form is the library's development one: any password, the login is the account id.
  // Only the spec's people exist; any other login fails the sign-in.
  async findAccount(_ctx, id) {
    const claims = people[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  // keyhatch is the site's own (first-party) client: no consent screen. The documented way
  // (the library's recipe "Skipping consent screen"): when the session holds no grant for the
  // client yet, one is made here with the scopes and claims the client may have.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (ctx.oidc.client.clientId !== settings.clientId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid profile email");
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    // RP-initiated logout (on by default in 9.x; said here because the spec relies on it): the
    // end_session endpoint asks to confirm, ends the session, and returns to a registered
    // post_logout_redirect_uri.
    rpInitiatedLogout: { enabled: true },
  },
});
// The https server is this process's own: requests reach the provider encrypted, so its cookies
// are Secure without trusting any X-Forwarded-Proto.
server.on("request", provider.callback());
provider.on("server_error", (_ctx, error) => console.error("provider error:", error));
console.log(JSON.stringify({ issuer }));
