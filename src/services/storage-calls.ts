import type { Env } from '../env';

/*
 * One seam for every call the gateway makes to its storage bindings: D1 (`DB`), R2 (`IMAGES`) and
 * the Durable Objects (`RATE_LIMITER`, `COALESCER`). `interceptStorage` answers an Env whose
 * bindings hand each call to `around` before it runs, so one function can bound, delay, count or
 * fail them all without any caller knowing. The storage guard (storage-guard.ts) bounds them in
 * production; tests and the bench put their own `around` underneath.
 */

export type StorageBinding = 'DB' | 'IMAGES' | 'RATE_LIMITER' | 'COALESCER';

export interface StorageCall {
  binding: StorageBinding;
  /**
   * D1: `batch`, `first`, `all`, `run`, `raw` or `exec`; R2: `get`, `put`, `head`, `delete`, `list`,
   * or `read` (reading the body of an object `get` answered); a Durable Object: its RPC method's name.
   */
  op: string;
  /** D1: the SQL (a batch's statements joined by newlines); R2: the object key; a Durable Object: ''. */
  detail: string;
  /** The arguments as the caller passed them (D1 statements and bound values are not among them). */
  args: readonly unknown[];
}

/** Runs (or does not run) one storage call: `run` makes the real call. */
export type AroundCall = <T>(call: StorageCall, run: () => Promise<T>) => Promise<T>;

const D1_CALLS = new Set(['first', 'all', 'run', 'raw']);
const R2_CALLS = new Set(['get', 'put', 'head', 'delete', 'list']);
const R2_BODY_READS = new Set(['arrayBuffer', 'text', 'json', 'blob', 'bytes']);

/** The Env with its storage bindings intercepted by `around`; every other binding as it was. */
export function interceptStorage<E extends Pick<Env, StorageBinding>>(env: E, around: AroundCall): E {
  return {
    ...env,
    DB: interceptD1(env.DB, around),
    IMAGES: interceptR2(env.IMAGES, around),
    RATE_LIMITER: interceptNamespace(env.RATE_LIMITER, 'RATE_LIMITER', around),
    COALESCER: interceptNamespace(env.COALESCER, 'COALESCER', around),
  };
}

/** A property of a binding object: its methods bound to the object itself (runtime objects refuse another `this`). */
function own(target: object, prop: PropertyKey): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

function interceptD1(db: D1Database, around: AroundCall): D1Database {
  // the statements this layer handed out, so a batch passes the database the ones it made
  const inner = new WeakMap<object, D1PreparedStatement>();
  const statement = (real: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const wrapped = new Proxy(real, {
      get(target, prop) {
        if (prop === 'bind') return (...values: unknown[]) => statement(target.bind(...values), sql);
        if (typeof prop === 'string' && D1_CALLS.has(prop)) {
          const method = own(target, prop) as (...a: unknown[]) => Promise<unknown>;
          return (...args: unknown[]) => around({ binding: 'DB', op: prop, detail: sql, args }, () => method(...args));
        }
        return own(target, prop);
      },
    });
    inner.set(wrapped, real);
    return wrapped;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return (sql: string) => statement(target.prepare(sql), sql);
      if (prop === 'batch') {
        return <T>(statements: D1PreparedStatement[]) => {
          const real = statements.map((s) => inner.get(s) ?? s);
          const sql = statements.map((s) => sqlOf(s)).join('\n');
          return around({ binding: 'DB', op: 'batch', detail: sql, args: [] }, () => target.batch<T>(real));
        };
      }
      if (prop === 'exec') return (sql: string) => around({ binding: 'DB', op: 'exec', detail: sql, args: [] }, () => target.exec(sql));
      return own(target, prop);
    },
  });
}

/** A statement's SQL, for matching a batch by what it does. */
function sqlOf(statement: D1PreparedStatement): string {
  const text = (statement as unknown as { statement?: unknown }).statement;
  return typeof text === 'string' ? text : '';
}

function interceptR2(bucket: R2Bucket, around: AroundCall): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      if (typeof prop !== 'string' || !R2_CALLS.has(prop)) return own(target, prop);
      const method = own(target, prop) as (...a: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        const key = typeof args[0] === 'string' ? args[0] : '';
        const result = await around({ binding: 'IMAGES', op: prop, detail: key, args }, () => method(...args));
        // the bytes of an object `get` found come in a second round trip: reading them is a call too
        return prop === 'get' && result ? interceptBody(result as R2ObjectBody, key, around) : result;
      };
    },
  });
}

function interceptBody(object: R2ObjectBody, key: string, around: AroundCall): R2ObjectBody {
  return new Proxy(object, {
    get(target, prop) {
      const value = own(target, prop);
      if (typeof prop !== 'string' || !R2_BODY_READS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => around({ binding: 'IMAGES', op: 'read', detail: key, args }, () => (value as (...a: unknown[]) => Promise<unknown>)(...args));
    },
  });
}

function interceptNamespace<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  binding: 'RATE_LIMITER' | 'COALESCER',
  around: AroundCall,
): DurableObjectNamespace<T> {
  return new Proxy(namespace, {
    get(target, prop) {
      if (prop !== 'get' && prop !== 'getByName') return own(target, prop);
      const make = own(target, prop) as (...a: unknown[]) => DurableObjectStub<T>;
      return (...args: unknown[]) => interceptStub(make(...args), binding, around);
    },
  });
}

/** A stub whose every method call (an RPC to the object) goes through `around`; its `id` and `name` as they are. */
function interceptStub<T extends Rpc.DurableObjectBranded | undefined>(
  stub: DurableObjectStub<T>,
  binding: 'RATE_LIMITER' | 'COALESCER',
  around: AroundCall,
): DurableObjectStub<T> {
  return new Proxy(stub, {
    get(target, prop) {
      // a stub answers any name with an RPC method; these are its own properties, or not methods at all
      if (typeof prop !== 'string' || prop === 'id' || prop === 'name' || prop === 'then' || prop === 'fetch') return own(target, prop);
      return (...args: unknown[]) =>
        around({ binding, op: prop, detail: '', args }, () => Reflect.apply(Reflect.get(target, prop, target) as (...a: unknown[]) => Promise<unknown>, target, args));
    },
  });
}
