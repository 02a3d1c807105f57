// The API: every page reads the same JSON API as other clients.

/** The signed-in session: who, the CSRF token for state-changing calls,
 * and the operations (OpenAPI operation ids) the server says it may call. */
export const session = { user: null, csrf: null, operations: new Set() };

/** Whether the session may call `operation` (an OpenAPI operation id).
 * Only decides what is shown: the server checks every request. */
export function can(operation) {
  return session.operations.has(operation);
}

let unauthorized = () => {};

/** What to do when the server says the session has ended (sign in again). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, text, data = null) {
    super(text);
    this.status = status;
    this.data = data;
  }
}

/** Sends one request; state-changing calls carry the session's CSRF token.
 * Returns the status and the JSON answer, or throws the answer's error. */
async function call(method, path, headers, body) {
  headers = { Accept: "application/json", ...headers };
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  const r = await fetch(path, { method, headers, credentials: "same-origin", body });
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (r.status === 401 && path !== "/api/v1/login") {
    unauthorized();
    throw new ApiError(401, "Please sign in.");
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || `${r.status} ${r.statusText}`, data);
  return { status: r.status, data };
}

/** Calls the API with an optional JSON body; returns the JSON answer. */
export async function api(method, path, body) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  const { data } = await call(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
  return data;
}

const JOB_POLL_MS = 400;

/** Runs a long request as a job (`Prefer: respond-async`): the server
 * answers at once and the job is read until it is done, `onProgress(job)`
 * told of each step. Returns the request's own answer, or throws its error
 * as `api` would. `body` is JSON, or a `File` sent as CSV. */
export async function runJob(method, path, body, onProgress = () => {}) {
  const headers = { Prefer: "respond-async" };
  let payload;
  if (body instanceof Blob) {
    headers["Content-Type"] = "text/csv";
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let { status, data: job } = await call(method, path, headers, payload);
  // A server that answered at once (no job) gave the answer itself.
  if (status !== 202) return job;
  while (job.state !== "done") {
    onProgress(job);
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    job = await api("GET", job.href);
  }
  onProgress(job);
  if (job.status >= 400) {
    throw new ApiError(job.status, (job.answer && job.answer.error) || `${job.status}`, job.answer);
  }
  return job.answer;
}
