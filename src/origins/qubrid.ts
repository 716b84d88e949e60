import { httpAdapter, openAiStyleImage, type HttpKind } from './http';

/** Qubrid's hosted endpoint: our Qubrid-compatible body, answered by image bytes or OpenAI-style JSON. */
export const qubridKind: HttpKind = {
  kind: 'qubrid',
  path: () => '',
  body: ({ request: r }) => ({
    model: r.model,
    positive_prompt: r.prompt,
    ...(r.negative_prompt ? { negative_prompt: r.negative_prompt } : {}),
    width: r.width,
    height: r.height,
    steps: r.steps,
    cfg: r.cfg,
    seed: r.seed,
    output_format: r.output_format,
  }),
  imageIn: openAiStyleImage,
};

/** The client's own seed goes through unchanged: a Qubrid body means what it means at Qubrid. */
export const qubridAdapter = httpAdapter(qubridKind);
