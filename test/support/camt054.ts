/** The demo bank's camt.053 and camt.054 writers, for tests. */
export { answer, camt053, camt054, transfersOf, type DemoEntry } from "../../service/payouts/bank/demo-bank.js";
