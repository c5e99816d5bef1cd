// client.mjs drives one official Node SDK call for cloakroom's end-to-end tests.
//
//   node client.mjs <api> <mode>
//
// api:  anthropic | openai-chat | openai-responses | gemini
// mode: once | stream
//
// The prompt comes on stdin. The SDK client is built with no options, so it is
// configured exactly as a user configures it: by the environment (ANTHROPIC_BASE_URL,
// ANTHROPIC_API_KEY, OPENAI_BASE_URL, OPENAI_API_KEY, GOOGLE_GEMINI_BASE_URL,
// GEMINI_API_KEY). With CLOAKROOM_E2E_DISPATCHER=env-proxy the client instead gets
// undici's EnvHttpProxyAgent as its fetch dispatcher (HTTPS_PROXY mode, as the README
// shows it).
//
// It prints one JSON object on stdout: {"text": ..., "toolText": ..., "streamText": ...}
// where text is the final assistant text, toolText the "text" argument of the echo
// tool call, and streamText (streaming only) the text deltas as they arrived.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { GoogleGenAI } from "@google/genai";
import { EnvHttpProxyAgent } from "undici";

const [api, mode] = process.argv.slice(2);
const stream = mode === "stream";
if (!["once", "stream"].includes(mode)) {
  fail(`mode must be once or stream, not ${mode}`);
}

function fail(msg) {
  process.stderr.write(`client.mjs: ${msg}\n`);
  process.exit(2);
}

function options() {
  if (process.env.CLOAKROOM_E2E_DISPATCHER === "env-proxy") {
    return { fetchOptions: { dispatcher: new EnvHttpProxyAgent() } };
  }
  return {};
}

function argText(args) {
  if (typeof args === "string") args = JSON.parse(args);
  return args?.text ?? "";
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

async function anthropic(prompt) {
  const client = new Anthropic({ maxRetries: 0, ...options() });
  const params = {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    messages: [{ role: "user", content: prompt }],
  };
  let msg;
  let streamText;
  if (stream) {
    streamText = "";
    const s = client.messages.stream(params);
    s.on("text", (t) => {
      streamText += t;
    });
    msg = await s.finalMessage();
  } else {
    msg = await client.messages.create(params);
  }
  const out = { text: "", toolText: "", streamText };
  for (const b of msg.content) {
    if (b.type === "text") out.text += b.text;
    if (b.type === "tool_use") out.toolText = argText(b.input);
  }
  return out;
}

async function openaiChat(prompt) {
  const client = new OpenAI({ maxRetries: 0, ...options() });
  const params = {
    model: "gpt-4.1",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: prompt },
    ],
  };
  if (!stream) {
    const res = await client.chat.completions.create(params);
    const m = res.choices[0].message;
    return { text: m.content, toolText: argText(m.tool_calls[0].function.arguments) };
  }
  let text = "";
  let args = "";
  const s = await client.chat.completions.create({ ...params, stream: true });
  for await (const chunk of s) {
    const d = chunk.choices[0]?.delta;
    if (!d) continue;
    if (d.content) text += d.content;
    for (const tc of d.tool_calls ?? []) args += tc.function?.arguments ?? "";
  }
  return { text, toolText: argText(args), streamText: text };
}

async function openaiResponses(prompt) {
  const client = new OpenAI({ maxRetries: 0, ...options() });
  const params = { model: "gpt-5", input: prompt };
  let res;
  let streamText;
  if (stream) {
    streamText = "";
    const s = await client.responses.create({ ...params, stream: true });
    for await (const ev of s) {
      if (ev.type === "response.output_text.delta") streamText += ev.delta;
      if (ev.type === "response.completed") res = ev.response;
    }
    if (!res) fail("stream ended without response.completed");
  } else {
    res = await client.responses.create(params);
  }
  const out = { text: "", toolText: "", streamText };
  for (const item of res.output) {
    if (item.type === "message") {
      for (const c of item.content) if (c.type === "output_text") out.text += c.text;
    }
    if (item.type === "function_call") out.toolText = argText(item.arguments);
  }
  return out;
}

async function gemini(prompt) {
  const ai = new GoogleGenAI({});
  const params = { model: "gemini-2.5-pro", contents: prompt };
  if (!stream) {
    const res = await ai.models.generateContent(params);
    return { text: res.text, toolText: res.functionCalls?.[0]?.args?.text ?? "" };
  }
  let text = "";
  let toolText = "";
  for await (const chunk of await ai.models.generateContentStream(params)) {
    text += chunk.text ?? "";
    const call = chunk.functionCalls?.[0];
    if (call) toolText = call.args?.text ?? "";
  }
  return { text, toolText, streamText: text };
}

const apis = {
  anthropic,
  "openai-chat": openaiChat,
  "openai-responses": openaiResponses,
  gemini,
};
if (!apis[api]) fail(`unknown api ${api}`);

try {
  const out = await apis[api](await readStdin());
  process.stdout.write(JSON.stringify(out) + "\n");
} catch (err) {
  // The SDKs' errors carry the status and the provider's (or cloakroom's) message.
  fail(`${api} ${mode}: ${err?.status ?? ""} ${err?.message ?? err}`);
}
