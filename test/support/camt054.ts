/** The demo bank's camt.054 writer, for tests. */
export { answer, camt054, transfersOf, type DemoEntry } from "../../service/payouts/bank/demo-bank.js";
