// A tiny key-value store over IndexedDB (database "porchlight", store
// "keys"), with an in-memory fallback where IndexedDB is absent (Node tests).

const dbName = 'porchlight';
const storeName = 'keys';

interface KV {
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
}

let kv: KV | undefined;

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function idb(): KV {
  let opened: Promise<IDBDatabase> | undefined;
  const db = () => {
    opened ??= new Promise((resolve, reject) => {
      const r = indexedDB.open(dbName, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(storeName);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(new Error(`open the browser's key store (IndexedDB): ${r.error?.message ?? 'failed'}; allow site data for this page and reload`));
      r.onblocked = () => reject(new Error('the key store is in use by an older tab of this app: close the other tabs and reload'));
    });
    return opened;
  };
  const tx = async (mode: IDBTransactionMode) => (await db()).transaction(storeName, mode).objectStore(storeName);
  return {
    async get(key) { return req((await tx('readonly')).get(key)); },
    async put(key, value) { await req((await tx('readwrite')).put(value, key)); },
    async del(key) { await req((await tx('readwrite')).delete(key)); },
  };
}

function memory(): KV {
  const m = new Map<string, unknown>();
  return {
    async get(key) { return structuredClone(m.get(key)); },
    async put(key, value) { m.set(key, structuredClone(value)); },
    async del(key) { m.delete(key); },
  };
}

/** The store: IndexedDB in a browser, memory elsewhere. */
export function store(): KV {
  kv ??= typeof indexedDB === 'undefined' ? memory() : idb();
  return kv;
}
