// WebAuthn ceremonies with go-webauthn's JSON (binary fields as base64url),
// for signing in (signin.ts), re-authentication and adding passkeys
// (settings_*.ts).

function b64urlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

function bytesToB64url(buf: ArrayBuffer | ArrayBufferView): string {
  const u = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = '';
  for (const x of u) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

type Desc = { id: string; type: 'public-key'; transports?: AuthenticatorTransport[] };
const descs = (v: unknown) => (Array.isArray(v) ? (v as Desc[]).map((c) => ({ type: c.type, id: b64urlToBytes(c.id), transports: c.transports })) : undefined);

/** webauthnGet runs navigator.credentials.get with the server's options; answers the JSON go-webauthn parses. */
export async function webauthnGet(pk: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
  const opts = { ...(pk as object), challenge: b64urlToBytes(String(pk.challenge)), allowCredentials: descs(pk.allowCredentials) } as PublicKeyCredentialRequestOptions;
  const cred = (await navigator.credentials.get({ publicKey: opts, signal })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was chosen. Try again.');
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: {
      clientDataJSON: bytesToB64url(r.clientDataJSON), authenticatorData: bytesToB64url(r.authenticatorData),
      signature: bytesToB64url(r.signature), userHandle: r.userHandle ? bytesToB64url(r.userHandle) : undefined,
    },
  };
}

/**
 * webauthnCreate runs navigator.credentials.create with the server's
 * options, asking for the PRF extension. Answers the JSON go-webauthn
 * parses, the raw credential id and whether the authenticator supports PRF.
 */
export async function webauthnCreate(pk: Record<string, unknown>, signal: AbortSignal): Promise<{ json: unknown; rawId: Uint8Array; prf: boolean }> {
  const user = pk.user as { id: string; name: string; displayName: string };
  const opts = {
    ...(pk as object),
    challenge: b64urlToBytes(String(pk.challenge)),
    user: { ...user, id: b64urlToBytes(user.id) },
    excludeCredentials: descs(pk.excludeCredentials),
    extensions: { ...((pk.extensions as object) ?? {}), prf: {} },
  } as unknown as PublicKeyCredentialCreationOptions;
  const cred = (await navigator.credentials.create({ publicKey: opts, signal })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was made. Try again.');
  const r = cred.response as AuthenticatorAttestationResponse;
  const ext = cred.getClientExtensionResults() as { prf?: { enabled?: boolean } };
  return {
    json: {
      id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
      clientExtensionResults: {},
      response: {
        clientDataJSON: bytesToB64url(r.clientDataJSON), attestationObject: bytesToB64url(r.attestationObject),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
      },
    },
    rawId: new Uint8Array(cred.rawId),
    prf: ext.prf?.enabled === true,
  };
}
