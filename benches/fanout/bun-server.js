// Fan-out (chat-room) server on Bun's built-in WebSocket server (uWebSockets
// inside): every socket subscribes to one topic, and every text or binary
// message received is published to that topic with `server.publish`, which
// (unlike `ws.publish`) includes the sender. Default settings otherwise;
// permessage-deflate off (the load generator does not offer it anyway).
//
//   bun bun-server.js [HOST:PORT]   # prints "listening on ws://HOST:PORT"

const [host, port] = splitAddr(process.argv[2] || "127.0.0.1:0");
const TOPIC = "room";

const server = Bun.serve({
  hostname: host,
  port,
  fetch(req, server) {
    if (server.upgrade(req)) return undefined;
    return new Response("WebSocket only\n", { status: 400 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe(TOPIC);
    },
    message(ws, message) {
      server.publish(TOPIC, message);
    },
  },
});

console.log(`listening on ws://${host}:${server.port}`);

function splitAddr(addr) {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}
