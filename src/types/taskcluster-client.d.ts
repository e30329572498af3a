// The official client ships no types: tests use it as users do, and the worker and CLI call it through typed wrappers of their own.
declare module 'taskcluster-client' {
  // biome-ignore lint/suspicious/noExplicitAny: the client is dynamically generated from references
  const taskcluster: any;
  export default taskcluster;
}

declare module 'taskcluster-client/src/apis.js' {
  // biome-ignore lint/suspicious/noExplicitAny: generated reference documents
  const apis: Record<string, { reference: any }>;
  export default apis;
}
