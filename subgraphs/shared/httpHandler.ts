import type { ApolloServer, BaseContext } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 1024 * 1024;

/** A node:http handler running Apollo's HTTP pipeline (POST /graphql with JSON, GET for queries). */
export function createHttpHandler<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  context: (headers: HeaderMap) => Promise<TContext>,
) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        res
          .writeHead(413, { 'content-type': 'application/json' })
          .end('{"errors":[{"message":"request body too large","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      try {
        const result = await server.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
          context: () => context(headers),
        });
        const out: Record<string, string> = {};
        for (const [k, v] of result.headers) out[k] = v;
        res.writeHead(result.status ?? 200, out);
        if (result.body.kind === 'complete') res.end(result.body.string);
        else {
          for await (const chunk of result.body.asyncIterator) res.write(chunk);
          res.end();
        }
      } catch {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}');
      }
    });
  };
}
