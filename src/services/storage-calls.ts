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

/** A function of any arguments: what `wrap` puts in place of a property. */
type Method = (...args: never[]) => unknown;
type AsyncMethod = (...args: unknown[]) => Promise<unknown>;

/** A property of a binding object: its methods bound to the object itself (runtime objects refuse another `this`). */
function own(target: object, prop: PropertyKey): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

/**
 * `target` seen through a proxy: `replace` answers what stands in for a property it names, or
 * undefined for a property to read as it is. Every wrapper below is one of these.
 */
function wrap<T extends object>(target: T, replace: (prop: string) => Method | undefined): T {
  return new Proxy(target, {
    get(inner, prop) {
      return (typeof prop === 'string' ? replace(prop) : undefined) ?? own(inner, prop);
    },
  });
}

/** `run` as a function whose every call is handed to `around` as this storage call, with its arguments. */
function through(around: AroundCall, call: Omit<StorageCall, 'args'>, run: AsyncMethod): Method {
  return (...args: unknown[]) => around({ ...call, args }, () => run(...args));
}

function interceptD1(db: D1Database, around: AroundCall): D1Database {
  // the statements this layer handed out, so a batch passes the database the ones it made
  const inner = new WeakMap<object, D1PreparedStatement>();
  const statement = (real: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const wrapped = wrap(real, (prop) => {
      if (prop === 'bind') return (...values: unknown[]) => statement(real.bind(...values), sql);
      if (D1_CALLS.has(prop)) return through(around, { binding: 'DB', op: prop, detail: sql }, own(real, prop) as AsyncMethod);
      return undefined;
    });
    inner.set(wrapped, real);
    return wrapped;
  };
  return wrap(db, (prop) => {
    if (prop === 'prepare') return (sql: string) => statement(db.prepare(sql), sql);
    if (prop === 'batch') {
      return (statements: D1PreparedStatement[]) => {
        const real = statements.map((s) => inner.get(s) ?? s);
        const sql = statements.map((s) => sqlOf(s)).join('\n');
        return around({ binding: 'DB', op: 'batch', detail: sql, args: [] }, () => db.batch(real));
      };
    }
    if (prop === 'exec') return (sql: string) => around({ binding: 'DB', op: 'exec', detail: sql, args: [] }, () => db.exec(sql));
    return undefined;
  });
}

/** A statement's SQL, for matching a batch by what it does. */
function sqlOf(statement: D1PreparedStatement): string {
  const text = (statement as unknown as { statement?: unknown }).statement;
  return typeof text === 'string' ? text : '';
}

function interceptR2(bucket: R2Bucket, around: AroundCall): R2Bucket {
  return wrap(bucket, (prop) => {
    if (!R2_CALLS.has(prop)) return undefined;
    const method = own(bucket, prop) as AsyncMethod;
    return async (...args: unknown[]) => {
      const key = typeof args[0] === 'string' ? args[0] : '';
      const result = await around({ binding: 'IMAGES', op: prop, detail: key, args }, () => method(...args));
      // the bytes of an object `get` found come in a second round trip: reading them is a call too
      return prop === 'get' && result ? interceptBody(result as R2ObjectBody, key, around) : result;
    };
  });
}

function interceptBody(object: R2ObjectBody, key: string, around: AroundCall): R2ObjectBody {
  return wrap(object, (prop) => {
    const value = R2_BODY_READS.has(prop) ? own(object, prop) : undefined;
    return typeof value === 'function' ? through(around, { binding: 'IMAGES', op: 'read', detail: key }, value as AsyncMethod) : undefined;
  });
}

/** A stub answers any name with an RPC method; these are its own properties, or not methods at all. */
const STUB_OWN = new Set(['id', 'name', 'then', 'fetch']);

/** The namespace's stubs, each of whose method calls (an RPC to the object) goes through `around`. */
function interceptNamespace<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  binding: 'RATE_LIMITER' | 'COALESCER',
  around: AroundCall,
): DurableObjectNamespace<T> {
  const rpc = (stub: DurableObjectStub<T>, prop: string): AsyncMethod => (...args) =>
    Reflect.apply(Reflect.get(stub, prop, stub) as AsyncMethod, stub, args);
  const intercepted = (stub: DurableObjectStub<T>) =>
    wrap(stub, (prop) => (STUB_OWN.has(prop) ? undefined : through(around, { binding, op: prop, detail: '' }, rpc(stub, prop))));
  return wrap(namespace, (prop) => {
    if (prop !== 'get' && prop !== 'getByName') return undefined;
    const make = own(namespace, prop) as (...a: unknown[]) => DurableObjectStub<T>;
    return (...args: unknown[]) => intercepted(make(...args));
  });
}
