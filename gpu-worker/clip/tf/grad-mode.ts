// How the towers compute gradients. The default uses custom gradients built from plain matMuls and
// explicit transposes (fast on wasm, where matMul with transpose flags runs 12–20× slower).
// `builtinGradients: true` uses TF.js's own gradients instead: slower, only meant as a reference.
import * as tf from '@tensorflow/tfjs';

export interface GradOptions {
  builtinGradients?: boolean;
}

/** tf.customGrad for one input, typed. `gradFunc` returns the gradient w.r.t. x. */
export function customGrad1<X extends tf.Tensor, Y extends tf.Tensor>(
  f: (x: X, save: tf.GradSaveFunc) => { value: Y; gradFunc: (dy: Y, saved: tf.Tensor[]) => tf.Tensor },
): (x: X) => Y {
  const g = tf.customGrad(((x: X, save: tf.GradSaveFunc) => f(x, save)) as never);
  return g as unknown as (x: X) => Y;
}

/** tf.customGrad for two inputs, typed. `gradFunc` returns [dA, dB]. */
export function customGrad2<A extends tf.Tensor, B extends tf.Tensor, Y extends tf.Tensor>(
  f: (a: A, b: B, save: tf.GradSaveFunc) => { value: Y; gradFunc: (dy: Y, saved: tf.Tensor[]) => [tf.Tensor, tf.Tensor] },
): (a: A, b: B) => Y {
  const g = tf.customGrad(((a: A, b: B, save: tf.GradSaveFunc) => f(a, b, save)) as never);
  return g as unknown as (a: A, b: B) => Y;
}
