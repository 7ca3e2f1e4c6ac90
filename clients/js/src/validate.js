/**
 * Validation against the document's own payload schemas (JSON Schema 2020-12, the subset the document uses),
 * so that the client refuses exactly what the document says is wrong, with the position it is about.
 *
 * Values come from `unpack`: a `WholeFloat` is a number but not an integer (the wire tells `14` from `14.0`),
 * a Uint8Array is MessagePack bin (positions marked `x-msgpack-bin`), big integers are BigInt.
 */
import { WireError } from "./errors.js";
import { WholeFloat } from "./msgpack.js";

const patterns = new Map();

function regex(source) {
  let re = patterns.get(source);
  if (re === undefined) patterns.set(source, (re = new RegExp(source, "u")));
  return re;
}

function bound(b) {
  return typeof b === "string" ? BigInt(b) : b;
}

function num(v) {
  return v instanceof WholeFloat ? v.value : v;
}

function typeOf(v) {
  if (v === null) return "null";
  if (v instanceof WholeFloat) return "float";
  if (typeof v === "bigint") return "integer";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "float";
  if (Array.isArray(v)) return "array";
  if (v instanceof Uint8Array) return "bin";
  return typeof v; // string, boolean, object
}

function hasType(v, type) {
  const t = typeOf(v);
  if (type === "number") return t === "integer" || t === "float";
  return t === type;
}

function describe(v) {
  const t = typeOf(v);
  return t === "float" && v instanceof WholeFloat ? `a float (${v.value}.0)` : t === "float" ? "a float" : `${t === "integer" ? "an" : "a"} ${t}`;
}

export class Validator {
  /** @param {object} schemas components.schemas of the document (contract.json) */
  constructor(schemas) {
    this.schemas = schemas;
  }

  resolve(schema) {
    while (schema && typeof schema === "object" && "$ref" in schema) {
      const name = schema.$ref.replace("#/components/schemas/", "");
      schema = this.schemas[name];
      if (schema === undefined) throw new Error(`unknown reference ${name}`);
    }
    return schema;
  }

  /** Throws WireError("field", why, path) at the first value the schema refuses. */
  check(v, schema, path) {
    const fail = (why) => { throw new WireError("field", why, path); };
    if (schema === true || schema === undefined) return;
    if (schema === false) fail("no value is allowed here");
    schema = this.resolve(schema);
    if (schema["x-msgpack-bin"]) {
      if (!(v instanceof Uint8Array)) fail(`expected binary data (MessagePack bin), got ${describe(v)}`);
      if (v.length > schema["x-max-bytes"]) fail(`larger than ${schema["x-max-bytes"]} bytes (${v.length})`);
      return;
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (!types.some((t) => hasType(v, t))) fail(`expected ${types.join(" or ")}, got ${describe(v)}`);
    }
    if ("const" in schema && num(v) !== schema.const) fail(`expected ${schema.const}, got ${String(num(v))}`);
    if (schema.enum && !schema.enum.includes(v)) fail(`${JSON.stringify(v)} is not one of ${schema.enum.join(", ")}`);
    if (typeof num(v) === "number" || typeof v === "bigint") {
      const x = num(v);
      if (schema.minimum !== undefined && x < bound(schema.minimum)) fail(`${x} is below ${schema.minimum}`);
      if (schema.maximum !== undefined && x > bound(schema.maximum)) fail(`${x} is above ${schema.maximum}`);
      if (typeof x === "number" && !Number.isFinite(x)) fail("must be a finite number");
    }
    if (typeof v === "string") {
      const length = [...v].length;
      if (schema.maxLength !== undefined && length > schema.maxLength) fail(`longer than ${schema.maxLength} characters (${length})`);
      if (schema.minLength !== undefined && length < schema.minLength) fail(`shorter than ${schema.minLength} characters`);
      if (schema.pattern !== undefined && !regex(schema.pattern).test(v)) fail(`${JSON.stringify(v)} does not match ${schema.pattern}`);
    }
    if (Array.isArray(v)) this.checkArray(v, schema, path, fail);
    if (typeOf(v) === "object") this.checkObject(v, schema, path, fail);
    for (const sub of schema.allOf ?? []) this.check(v, sub, path);
    if (schema.anyOf && !schema.anyOf.some((sub) => this.accepts(v, sub, path))) {
      fail(`${describe(v)} matches none of the allowed forms`);
    }
    if (schema.oneOf && schema.oneOf.filter((sub) => this.accepts(v, sub, path)).length !== 1) {
      fail(`${describe(v)} does not match exactly one allowed form`);
    }
    if (schema.if !== undefined && this.accepts(v, schema.if, path)) this.check(v, schema.then, path);
  }

  accepts(v, schema, path) {
    try {
      this.check(v, schema, path);
      return true;
    } catch (e) {
      if (e instanceof WireError) return false;
      throw e;
    }
  }

  checkArray(v, schema, path, fail) {
    if (schema.minItems !== undefined && v.length < schema.minItems) fail(`expected at least ${schema.minItems} items, got ${v.length}`);
    if (schema.maxItems !== undefined && v.length > schema.maxItems) fail(`expected at most ${schema.maxItems} items, got ${v.length}`);
    const prefix = schema.prefixItems ?? [];
    for (let i = 0; i < v.length; i++) {
      const sub = i < prefix.length ? prefix[i] : schema.items;
      this.check(v[i], sub, `${path}[${i}]`);
    }
  }

  checkObject(v, schema, path, fail) {
    const keys = Object.keys(v);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) fail(`more than ${schema.maxProperties} entries (${keys.length})`);
    for (const key of schema.required ?? []) {
      if (!keys.includes(key)) fail(`missing the required key ${JSON.stringify(key)}`);
    }
    for (const key of keys) {
      if (schema.propertyNames !== undefined) this.check(key, schema.propertyNames, `${path}{${key}}`);
      // A documented key by its own schema, any other by additionalProperties (JSON Schema's rule).
      const own = schema.properties !== undefined && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      if (own !== undefined) this.check(v[key], own, `${path}.${key}`);
      else if (schema.additionalProperties !== undefined) this.check(v[key], schema.additionalProperties, `${path}.${key}`);
    }
  }
}
