// The HTTP layer: every call to porchlightd goes through api(), which sends
// the session cookie (same origin only), encodes JSON and turns a non-2xx
// answer into an ApiError carrying porchlightd's error body.

/** A non-2xx answer: status, porchlightd's machine-readable code and its log id. */
export class ApiError extends Error {
  status: number;
  code: string;
  id?: string;
  constructor(status: number, code: string, message: string, id?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.id = id;
  }
}

/** The largest JSON answer api() reads (a day of manifests with data fits). */
const maxJSON = 64 << 20;

/**
 * Calls porchlightd: method and path (e.g. "/v1/cameras"), an optional JSON
 * body, and extra fetch options (signal, headers). It answers the decoded
 * JSON body, or undefined for an empty one (204). Errors: ApiError for a
 * non-2xx answer; a TypeError from fetch when the network is down.
 */
export async function api<T>(method: string, path: string, body?: unknown, init?: RequestInit): Promise<T> {
  const headers = new Headers(init?.headers);
  headers.set('Accept', 'application/json');
  let payload: BodyInit | undefined;
  if (body !== undefined) {
    headers.set('Content-Type', 'application/json');
    payload = JSON.stringify(body);
  }
  const resp = await fetch(path, { credentials: 'same-origin', ...init, method, headers, body: payload });
  return decodeResponse<T>(method, path, resp);
}

/** Fetches raw bytes (an object's ciphertext); ApiError for a non-2xx answer. */
export async function apiBytes(path: string, init?: RequestInit): Promise<Uint8Array> {
  const resp = await fetch(path, { credentials: 'same-origin', ...init, method: 'GET' });
  if (!resp.ok) await throwFor('GET', path, resp);
  return new Uint8Array(await resp.arrayBuffer());
}

async function decodeResponse<T>(method: string, path: string, resp: Response): Promise<T> {
  if (!resp.ok) await throwFor(method, path, resp);
  const text = await resp.text();
  if (text.length > maxJSON) throw new Error(`${method} ${path}: answer larger than ${maxJSON} bytes`);
  if (text.trim() === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${method} ${path}: porchlightd answered something that is not JSON; reload the page and try again`);
  }
}

async function throwFor(method: string, path: string, resp: Response): Promise<never> {
  let code = 'http_' + resp.status;
  let message = `${method} ${path}: ${resp.status} ${resp.statusText}`;
  let id: string | undefined;
  try {
    const e = (await resp.json()) as { code?: unknown; message?: unknown; id?: unknown };
    if (typeof e.code === 'string' && e.code) code = e.code;
    if (typeof e.message === 'string' && e.message) message = e.message;
    if (typeof e.id === 'string' && e.id) id = e.id;
  } catch {
    // Not an error body (a proxy's page): keep the status line.
  }
  throw new ApiError(resp.status, code, message, id);
}
