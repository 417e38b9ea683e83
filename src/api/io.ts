/// <reference types="node" preserve="true" />
/**
 * streamroll/io: frames in and out of a runtime — the wire format's messages and framing,
 * shared-memory rings for sensors on other threads, push sources, the fixed-rate clock, the
 * TCP frame server, and the synthetic MNIST camera with its shipped digits.
 * @packageDocumentation
 */
export { FrameRing, type FrameRingHandle } from '../io/frame-ring.js';
export { fixedRate } from '../io/clock.js';
export { frameInputs, type SourceFrame } from '../io/frames.js';
export { PushSource } from '../io/push-source.js';
export { mnistCamera, MnistCamera, type MnistCameraOptions } from '../io/mnist-camera.js';
export { mnistByClass, mnistSplit, type Digit } from '../io/mnist-data.js';
export { encodeMessage, decodeMessage, readMessages, toSourceFrame, frameMessage, MessageError, MessageFramer, MAX_MESSAGE_BYTES } from '../io/frame-stream.js';
export { serveFrames, isLoopback, type FrameServer, type ServeOptions } from '../engine/serve-frames.js';
