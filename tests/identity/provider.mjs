// A real OpenID provider for the OAuth tests: panva's oidc-provider (an OpenID Certified
// implementation), installed by .ci/node-peers.sh. It issues JWT access tokens for the resource
// named on the command line, signed with a key made at start, and adds the groups claim a
// company directory would: to client-credentials clients, and to people who sign in through
// the authorization code flow of a dynamically registered client (its development login page
// takes any name and password).
//
//   node provider.mjs PORT RESOURCE NODE_MODULES
//
// NODE_MODULES is the folder oidc-provider is installed in (.ci/node/node_modules), which is not
// on this file's own module path. It prints "listening" once it answers, and serves until it
// is terminated.
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [port, resource, nodeModules] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(join(nodeModules, "oidc-provider", "lib", "index.js")).href);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const signing = { ...privateKey.export({ format: "jwk" }), kid: "provider-es256", alg: "ES256", use: "sig" };

// Who is in which groups: a publisher agent, an agent and a person that the policy maps to no
// role, and a person who publishes.
const GROUPS = {
  "release-agent": ["cms-publishers"],
  "stranger-agent": ["contractors"],
  stranger: ["contractors"],
  ann: ["cms-publishers"],
};
const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789`,
  grant_types: ["client_credentials"],
  redirect_uris: [],
  response_types: [],
  scope: "cs-mcp.write",
});

const provider = new Provider(issuer, {
  clients: ["release-agent", "stranger-agent"].map(client),
  jwks: { keys: [signing] },
  scopes: ["openid", "offline_access", "cs-mcp.write"],
  ttl: { ClientCredentials: 300 },
  clientDefaults: { id_token_signed_response_alg: "ES256" },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      // Only this resource is known; a token for it is a JWT whose audience is the resource.
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return { scope: "cs-mcp.write", audience: resource, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } };
      },
    },
  },
  extraTokenClaims: (ctx, token) => ({ groups: GROUPS[token.accountId ?? token.clientId] ?? [] }),
});

provider.listen(Number(port), "127.0.0.1", () => console.log("listening"));
