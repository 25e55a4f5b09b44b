// A stand-in for Seqera Platform, started by the tests: the three endpoints keyhatch uses, with
// the field names and status codes of Seqera's OpenAPI description (API 1.97.0), under /api.
// It records every request and prints nothing. The same rules as tests/it/seqera.rs: the token
// SEQERA_TOKEN works (user 7 "alice"; workspaces 11 lab/pipelines and 12 lab/readonly, where 12
// answers 403), any other gets 401; a credentials name "taken" gets 409, "slow" an answer after
// three seconds. SSH credentials to update: "cluster" (sshCred1) takes a new key (204), "broken"
// (sshBroken) fails with 500.
import { createServer, IncomingMessage, Server } from "node:http";
import { AddressInfo } from "node:net";

export const SEQERA_TOKEN = "seqera-token-e2e7c4";

export type Received = { method: string; path: string; authorization: string; body: string };

export type FakePlatform = { url: string; web: string; received: Received[]; close: () => Promise<void> };

export async function startFakePlatform(): Promise<FakePlatform> {
  const received: Received[] = [];
  const server: Server = createServer(async (request, response) => {
    const body = await read(request);
    const authorization = request.headers.authorization ?? "";
    received.push({ method: request.method!, path: request.url!, authorization, body });
    const reply = (status: number, json?: unknown) => {
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(json === undefined ? "" : JSON.stringify(json));
    };
    if (authorization !== `Bearer ${SEQERA_TOKEN}`) return reply(401);
    if (request.method === "GET" && request.url === "/api/user-info") {
      return reply(200, { user: { id: 7, userName: "alice", email: "alice@example.org", avatar: "" }, needConsent: false });
    }
    if (request.method === "GET" && request.url === "/api/user/7/workspaces") {
      return reply(200, {
        orgsAndWorkspaces: [
          { orgId: 1, orgName: "lab", workspaceId: null, workspaceName: null },
          { orgId: 1, orgName: "lab", workspaceId: 11, workspaceName: "pipelines" },
          { orgId: 1, orgName: "lab", workspaceId: 12, workspaceName: "readonly" },
        ],
      });
    }
    if (request.method === "GET" && request.url!.startsWith("/api/credentials")) {
      if (request.url!.endsWith("workspaceId=12")) return reply(403);
      return reply(200, {
        credentials: [
          { id: "sshCred1", name: "cluster", provider: "ssh" },
          { id: "awsCred", name: "aws", provider: "aws" },
          { id: "sshBroken", name: "broken", provider: "ssh" },
        ],
      });
    }
    if (request.method === "PUT" && request.url!.startsWith("/api/credentials/")) {
      if (request.url!.endsWith("workspaceId=12")) return reply(403);
      if (request.url!.startsWith("/api/credentials/sshCred1")) return reply(204);
      if (request.url!.startsWith("/api/credentials/sshBroken")) return reply(500, { message: "oops" });
      return reply(404, { message: "not found" });
    }
    if (request.method === "POST" && request.url!.startsWith("/api/credentials")) {
      const name = JSON.parse(body)?.credentials?.name;
      if (request.url!.endsWith("workspaceId=12")) return reply(403);
      if (name === "taken") return reply(409, { message: "Duplicate element" });
      if (name === "slow") await new Promise((r) => setTimeout(r, 3000));
      return reply(200, { credentialsId: "4c9dEwvJW2TvwKQNOxYGqG" });
    }
    reply(404, { message: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    web: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function read(request: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}
