using Grid.Host.Api;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Host.Proxy;

/// <summary><c>/contracts</c>, <c>/contracts/{id}</c>, its bills and a twin's consumption, from the ledger read model.</summary>
public static class ContractsQuery
{
    private static readonly string[] Filters =
        ["contract_id", "twin_id", "node_id", "type", "state", "name", "number_of_public_ips", "deployment_data", "deployment_hash", "farm_name", "farm_id"];

    private static readonly string[] SortKeys = ["contract_id", "twin_id", "state", "created_at", "type"];
    private static readonly string[] States = [ProxyReadModel.Created, ProxyReadModel.GracePeriod, ProxyReadModel.Deleted];
    private static readonly IComparer<ContractRow> ById = Comparer<ContractRow>.Create((a, b) => a.ContractId.CompareTo(b.ContractId));

    public static Results<Ok<List<ProxyContract>>, ValidationProblem> List(HttpContext http, ProxyReadModel readModel, FarmDirectory farms)
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
        // Every reservation is a node contract without deployment data: name and deployment filters match nothing.
        var unmatchable = query.Text("name") is not null || query.Text("deployment_data") is not null || query.Text("deployment_hash") is not null;
        var limit = query.Limit(SortKeys);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        var candidates = contractId is { } id
            ? (readModel.TryGetContract(id, out var one) ? [one] : [])
            : readModel.Contracts(twinId);
        var matching = candidates.Where(c =>
                !unmatchable
                && (twinId is null || c.TwinId == twinId)
                && (nodeId is null || c.NodeId == nodeId)
                && (type is null || type == "node")
                && (states is null || states.Contains(c.State))
                && (publicIps is null || c.PublicIps >= publicIps)
                && (farmId is null || c.FarmId == farmId)
                && (farmName is null || farms.NameOf(c.FarmId).Equals(farmName, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        limit.WriteCount(http.Response, matching.Count);
        return TypedResults.Ok(limit.Apply(matching, ComparerFor, ById).ConvertAll(c => ProxyViews.Contract(c, farms)));
    }

    public static Results<Ok<ProxyContract>, ProblemHttpResult> Get(long contractId, ProxyReadModel readModel, FarmDirectory farms) =>
        readModel.TryGetContract(contractId, out var contract)
            ? TypedResults.Ok(ProxyViews.Contract(contract, farms))
            : Problems.NotFound($"Contract {contractId}");

    public static Results<Ok<List<ProxyBill>>, ValidationProblem, ProblemHttpResult> Bills(
        long contractId, HttpContext http, ProxyReadModel readModel)
    {
        var query = new ProxyQuery(http.Request.Query, ProxyQuery.LimitParameters);
        var limit = query.Limit([]);
        if (!query.IsValid)
        {
            return query.Problem();
        }

        if (!readModel.TryGetContract(contractId, out _))
        {
            return Problems.NotFound($"Contract {contractId}");
        }

        var bills = readModel.Bills(contractId);
        limit.WriteCount(http.Response, bills.Length);
        return TypedResults.Ok<List<ProxyBill>>([.. bills.Skip(limit.Skip).Take(limit.Size).Select(b => new ProxyBill(b.Amount, "None", b.Timestamp))]);
    }

    /// <summary>
    /// The grid proxy's arithmetic: the last hour is each live contract's latest bill spread over the time it covers
    /// (since the previous bill, or since the contract was created), overall is every bill of the twin. Sums are
    /// integers in minor units; only the answer is divided into currency units, as the grid proxy's floats are.
    /// </summary>
    public static Ok<ProxyConsumption> Consumption(long twinId, ProxyReadModel readModel)
    {
        double lastHour = 0;
        long overall = 0;
        foreach (var contract in readModel.Contracts(twinId))
        {
            var bills = readModel.Bills(contract.ContractId);
            overall += bills.Sum(b => b.Amount);
            if (contract.State == ProxyReadModel.Deleted || bills.Length == 0)
            {
                continue;
            }

            var hours = bills.Length switch
            {
                1 => (bills[0].Timestamp - contract.CreatedAt) / 3600.0,
                2 => (bills[0].Timestamp - bills[1].Timestamp) / 3600.0,
                _ => 1.0,
            };
            lastHour += hours > 0 ? bills[0].Amount / hours : bills[0].Amount;
        }

        return TypedResults.Ok(new ProxyConsumption(lastHour / Money.MinorUnitsPerUnit, (double)overall / Money.MinorUnitsPerUnit));
    }

    private static IComparer<ContractRow> ComparerFor(string sortBy)
    {
        if (sortBy == "state")
        {
            // As the grid proxy's ORDER BY state: by the state's name.
            return Comparer<ContractRow>.Create((a, b) => string.CompareOrdinal(a.State, b.State) is var c && c != 0 ? c : ById.Compare(a, b));
        }

        Func<ContractRow, long> key = sortBy switch
        {
            "twin_id" => c => c.TwinId,
            "created_at" => c => c.CreatedAt,
            "type" => _ => 0,
            _ => c => c.ContractId,
        };
        return Comparer<ContractRow>.Create((a, b) => key(a).CompareTo(key(b)) is var c && c != 0 ? c : ById.Compare(a, b));
    }
}
