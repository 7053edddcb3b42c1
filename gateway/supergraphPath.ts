/** Where the committed supergraph lives (`npm run compose` writes it; the gateway reads it without loading the composer). */
export const SUPERGRAPH_PATH = new URL('./supergraph.graphql', import.meta.url);
