// Fan-out (chat-room) server on Node's `ws` package: every text or binary
// message received is sent, unchanged, to every open client in
// `wss.clients`, the sender included. Default settings (permessage-deflate
// is off by default on a `ws` server).
//
//   node node-ws-server.js [HOST:PORT]   # prints "listening on ws://HOST:PORT"

"use strict";
const { WebSocketServer, WebSocket } = require("ws");

const addr = process.argv[2] || "127.0.0.1:0";
const i = addr.lastIndexOf(":");
const host = addr.slice(0, i);
const port = Number(addr.slice(i + 1));

const wss = new WebSocketServer({ host, port });

wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
});

wss.on("listening", () => {
  console.log(`listening on ws://${host}:${wss.address().port}`);
});
