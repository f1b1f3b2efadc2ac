// undici's own files have no type declarations; src/client/undici.ts gives them undici's public types.
declare module 'undici/lib/*' {
  const value: unknown;
  export default value;
}
