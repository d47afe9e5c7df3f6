// Drives the published @threefold/gridproxy_client against a running grid and prints what it got as JSON.
// Usage: node drive.cjs <grid url> <folder holding node_modules> <json: {nodeId, farmName, twinId, contractId}>
const path = require("node:path");
const { createRequire } = require("node:module");

async function main() {
  const [url, folder, json] = process.argv.slice(2);
  const ids = JSON.parse(json);
  const load = createRequire(path.join(folder, "package.json"));
  const GridProxyClient = load("@threefold/gridproxy_client").default;
  const client = new GridProxyClient(url);

  const nodes = await client.nodes.list({ status: "up", retCount: true, sortBy: "total_cru", sortOrder: "desc", size: 50 });
  const egypt = await client.nodes.list({ country: "Egypt", freeMru: 1, retCount: true });
  const node = await client.nodes.byId(ids.nodeId, { loadFarm: true });
  const farms = await client.farms.list({ nameContains: ids.farmName.slice(0, 4), retCount: true });
  const twins = await client.twins.list({ twinId: ids.twinId, retCount: true });
  const contracts = await client.contracts.list({ twinId: ids.twinId, state: ["Created"], retCount: true });
  const contract = await client.contracts.list({ contractId: ids.contractId });
  const stats = await client.stats.get({ status: "up" });
  const ips = await client.publicIps.list({ free: false, retCount: true });

  console.log(JSON.stringify({ nodes, egypt, node, farms, twins, contracts, contract, stats, ips }));
}

main().catch(error => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
