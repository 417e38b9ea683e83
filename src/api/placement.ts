/// <reference types="node" preserve="true" />
/**
 * streamroll/placement: how layers are grouped onto worker threads and the frame-period model
 * behind it, for benchmarks and for choosing a placement by hand
 * (`Runtime.create(net, {placement})`).
 * @packageDocumentation
 */
export {
  choosePlacement,
  chooseWorkerCount,
  onePerLayer,
  balanced,
  explicitPlacement,
  simulateFrame,
  predictFramePeriod,
  nodeFlops,
  type Placement,
  type PlacementMapping,
  type PlacementOption,
} from '../engine/placement.js';
