using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Proxy;

/// <summary><c>/contracts</c>, <c>/contracts/{id}</c>, its bills and a twin's consumption, from the ledger read model.</summary>
public static class ContractsQuery
{
    private static readonly string[] Filters =
        ["contract_id", "twin_id", "node_id", "type", "state", "name", "number_of_public_ips", "deployment_data", "deployment_hash", "farm_name", "farm_id"];

    private static readonly string[] SortKeys = ["contract_id", "twin_id", "state", "created_at", "type"];
    private static readonly string[] States = [ProxyReadModel.Created, ProxyReadModel.GracePeriod, ProxyReadModel.Deleted];

    public static async Task<Results<Ok<List<ProxyContract>>, ValidationProblem>> List(
        HttpContext http, IProxyReadStore store, FarmDirectory farms, CancellationToken cancellationToken)
    {
        var query = new ProxyQuery(http.Request.Query, [.. Filters, .. ProxyQuery.LimitParameters]);
        var contractId = query.Natural("contract_id");
        var twinId = query.Natural("twin_id");
        var nodeId = query.Natural("node_id");
        var type = query.Text("type");
        var states = query.OneOf("state", States);
        var publicIps = query.Natural("number_of_public_ips");
        var farmName = query.Text("farm_name");
        var farmId = query.Natural("farm_id");
        // Reservations are node contracts without deployment data, rents rent contracts; there are no name contracts:
        // name and deployment filters, and any other type, match nothing.
        var unmatchable = query.Text("name") is not null || query.Text("deployment_data") is not null || query.Text("deployment_hash") is not null
            || (type is not null && type != ProxyEvents.NodeContract && type != ProxyEvents.RentContract);
        var limit = query.Limit(SortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        var page = await store.ContractsAsync(
            new ContractFilter(contractId, twinId, nodeId, states, publicIps, farmId, farmName, unmatchable, type), limit, cancellationToken);
        limit.WriteCount(http.Response, page.Total);
        return TypedResults.Ok<List<ProxyContract>>([.. page.Items.Select(c => ProxyViews.Contract(c, farms))]);
    }

    public static async Task<Results<Ok<ProxyContract>, ProblemHttpResult>> Get(
        long contractId, IProxyReadStore store, FarmDirectory farms, CancellationToken cancellationToken) =>
        await store.ContractAsync(contractId, cancellationToken) is { } contract
            ? TypedResults.Ok(ProxyViews.Contract(contract, farms))
            : ProxyApi.NotFound($"Contract {contractId}");

    public static async Task<Results<Ok<List<ProxyBill>>, ValidationProblem, ProblemHttpResult>> Bills(
        long contractId, HttpContext http, IProxyReadStore store, CancellationToken cancellationToken)
    {
        var query = new ProxyQuery(http.Request.Query, ProxyQuery.LimitParameters);
        var limit = query.Limit([]);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        if (await store.ContractAsync(contractId, cancellationToken) is null)
        {
            return ProxyApi.NotFound($"Contract {contractId}");
        }

        var bills = await store.BillsAsync(contractId, limit, cancellationToken);
        limit.WriteCount(http.Response, bills.Total);
        return TypedResults.Ok<List<ProxyBill>>([.. bills.Items.Select(b => new ProxyBill(b.Amount, "None", b.Timestamp))]);
    }

    /// <summary>
    /// The grid proxy's arithmetic: the last hour is each live contract's latest bill spread over the time it covers
    /// (since the previous bill, or since the contract was created), overall is every bill of the twin. Sums are
    /// integers in minor units; only the answer is divided into currency units, as the grid proxy's floats are.
    /// </summary>
    public static async Task<Ok<ProxyConsumption>> Consumption(long twinId, IProxyReadStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(ConsumptionOf(await store.BillingAsync(twinId, cancellationToken)));

    public static ProxyConsumption ConsumptionOf(TwinBilling billing)
    {
        double lastHour = 0;
        foreach (var contract in billing.LiveContracts)
        {
            var hours = contract.BillCount switch
            {
                1 => (contract.LastAt - contract.CreatedAt) / 3600.0,
                2 => (contract.LastAt - contract.PreviousAt!.Value) / 3600.0,
                _ => 1.0,
            };
            lastHour += hours > 0 ? contract.LastAmount / hours : contract.LastAmount;
        }

        return new ProxyConsumption(lastHour / Money.MinorUnitsPerUnit, (double)billing.Overall / Money.MinorUnitsPerUnit);
    }
}
