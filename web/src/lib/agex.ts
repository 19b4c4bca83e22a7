// age (typage) wrappers: Porchlight only uses hybrid (ML-KEM-768 + X25519)
// recipients and identities, as internal/seal.ParseRecipient insists.

import { Decrypter, Encrypter, identityToRecipient } from 'age-encryption';

/** MaxOpen bounds the plaintext decrypt returns (keys.MaxOpen). */
export const MaxOpen = 256 << 20;

/** Checks s is an age hybrid recipient ("age1pq1…"); throws otherwise. */
export function parseRecipient(s: string): string {
  if (typeof s !== 'string' || !s.startsWith('age1pq1')) throw new Error('parse hybrid recipient: not an age1pq1… recipient');
  try {
    new Encrypter().addRecipient(s);
  } catch (e) {
    throw new Error('parse hybrid recipient: ' + (e as Error).message);
  }
  return s;
}

/** Checks s is an age hybrid identity ("AGE-SECRET-KEY-PQ-1…") and answers its recipient. */
export async function recipientOf(identity: string): Promise<string> {
  if (typeof identity !== 'string' || !identity.startsWith('AGE-SECRET-KEY-PQ-1')) throw new Error('parse hybrid identity: not an AGE-SECRET-KEY-PQ-1… identity');
  return identityToRecipient(identity);
}

/** Decrypts an age file with one hybrid identity. */
export async function decrypt(ciphertext: Uint8Array, identity: string): Promise<Uint8Array> {
  const d = new Decrypter();
  if (!identity.startsWith('AGE-SECRET-KEY-PQ-1')) throw new Error('decrypt: not a hybrid identity');
  d.addIdentity(identity);
  let out: Uint8Array;
  try {
    out = await d.decrypt(ciphertext);
  } catch (e) {
    throw new Error('decrypt: ' + (e as Error).message);
  }
  if (out.length > MaxOpen) throw new Error(`decrypt: plaintext larger than ${MaxOpen} bytes`);
  return out;
}

/** Encrypts plaintext as one age file to every recipient. */
export async function encrypt(plaintext: Uint8Array, ...recipients: string[]): Promise<Uint8Array> {
  if (recipients.length === 0) throw new Error('seal: no recipients');
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(parseRecipient(r));
  return e.encrypt(plaintext);
}
