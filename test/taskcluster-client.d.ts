// The official client ships no types; tests use it as the untyped library users call.
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
