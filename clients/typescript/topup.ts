// A whole top-up against the client openapi-typescript generates from the document
// (schema.d.ts, made by scripts/check-openapi.sh): create, list the dealers and the branch
// data, effectuate, confirm, show. `tsc --noEmit` checks every body, parameter and answer
// against the document's types; nothing here is typed by hand.
import type { components, operations } from "./schema";

type Op = keyof operations;
/** The JSON answer of `op` with `status`. */
type Answer<O extends Op, S extends keyof operations[O]["responses"]> =
  operations[O]["responses"][S] extends { content: { "application/json": infer B } } ? B : never;
/** The JSON body `op` takes. */
type Body<O extends Op> =
  operations[O] extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
type ApiError = components["schemas"]["Error"];

export class Storefront {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** Calls `op` and returns its answer when the status is `expected`; throws the API's error. */
  async send<O extends Op, S extends keyof operations[O]["responses"] & number>(
    op: O,
    expected: S,
    method: "GET" | "POST",
    path: string,
    body?: Body<O>,
  ): Promise<Answer<O, S>> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      // A retry with the same key gets the first answer: never a second charge.
      headers["Idempotency-Key"] = crypto.randomUUID();
    }
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: unknown = await response.json();
    if (response.status !== expected) {
      const { error } = json as ApiError;
      const field = error.field === undefined ? "" : ` (${error.field})`;
      throw new Error(`${op}: ${response.status} ${error.code}${field}: ${error.message}`);
    }
    return json as Answer<O, S>;
  }
}

/** Tops up `phone` with the dealer's first amount range; returns the confirmed recharge. */
export async function topUp(
  api: Storefront,
  phone: components["schemas"]["Phone"],
  dealerCode: string,
): Promise<components["schemas"]["Recharge"]> {
  const created = await api.send("createRecharge", 201, "POST", "/api/v1/recharges", {
    recharge_type: "normal",
  });
  const one = `/api/v1/recharges/${created.id}`;
  const { dealers } = await api.send("listDealers", 200, "GET", `${one}/dealers`);
  const dealer = dealers.find((d) => d.code === dealerCode);
  if (dealer === undefined || dealer.type_code === null) {
    throw new Error(`dealer ${dealerCode} is not sold for this recharge`);
  }
  const query: operations["getBranchData"]["parameters"]["query"] = {
    dealer_code: dealer.code,
    ddd: phone.ddd,
  };
  const listed = await api.send(
    "getBranchData",
    200,
    "GET",
    `${one}/branches?${new URLSearchParams({ dealer_code: query.dealer_code, ddd: phone.ddd })}`,
  );
  if (!("categories" in listed)) throw new Error("a bill's listing, not a top-up's");
  const range = listed.categories[0]?.amount_ranges[0];
  if (range === undefined || range.min_amount === null) throw new Error("no amount range");
  const effectuated = await api.send("effectuateRecharge", 200, "POST", `${one}/effectuate`, {
    dealer: { code: dealer.code, type_code: dealer.type_code },
    phone,
    amount: range.min_amount,
    ...(range.amount_key === null ? {} : { amount_key: range.amount_key }),
  });
  if (effectuated.status !== "pending_confirmation") {
    throw new Error(`effectuated: ${effectuated.status}`);
  }
  await api.send("confirmRecharge", 200, "POST", `${one}/confirm`, { confirm: true });
  const shown = await api.send("getRecharge", 200, "GET", one);
  if (shown.status !== "confirmed") throw new Error(`not confirmed: ${shown.status}`);
  return shown;
}
