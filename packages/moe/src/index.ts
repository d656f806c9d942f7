export { gate, type GateResult } from "./gate.js";
export { planDispatch, gatherRows, scatterAddWeighted, type ExpertGroup } from "./dispatch-plan.js";
