export * from './types.js';
export { deriveDataplane, addressOf, type DeriveProblem } from './derive.js';
export { planVtep, planEntries, type ActualEntries, type EntryPlan } from './plan.js';
export {
  reconcileDataplane,
  applyIncrement,
  asActual,
  DataplaneReconciler,
  type ReconcileResult,
  type ItemFailure,
} from './apply.js';
