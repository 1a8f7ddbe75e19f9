// A TCP proxy on loopback in front of one address that can stop forwarding: cut() drops every byte both ways
// while the connections stay open (a partition, not a refusal: a client learns nothing until its own timeouts);
// heal() closes what was open during the cut and forwards again, so clients reconnect.

import type { AddressInfo } from "node:net";
import { connect, createServer, type Socket } from "node:net";

export interface CuttableProxy {
  /** host:port to dial instead of the target. */
  port: number;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: { host: string; port: number }): Promise<CuttableProxy> {
  let cut = false;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.on("data", (chunk) => {
      if (!cut) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!cut) client.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      cut = true;
    },
    heal: () => {
      cut = false;
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
