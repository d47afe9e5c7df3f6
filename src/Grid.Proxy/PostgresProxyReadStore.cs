using System.Text;
using Npgsql;

namespace Grid.Proxy;

/// <summary>
/// The reads answered from the tables <see cref="PostgresProxyProjector"/> keeps (durable mode): filters, order and
/// page in SQL, served by the indexes of <c>Sql/06-proxy-read-model.sql</c> (a twin's contracts by
/// <c>(twin_id, contract_id)</c>); the total is counted only when the client asks for it (<c>ret_count</c>).
/// </summary>
public sealed class PostgresProxyReadStore([FromKeyedServices(PostgresProxyReadStore.DataSourceKey)] NpgsqlDataSource source) : IProxyReadStore
{
    /// <summary>The key of the read model's own connection pool in the container.</summary>
    public const string DataSourceKey = "grid-proxy";

    private const string ContractColumns = "contract_id, twin_id, state, created_at, node_id, farm_id, public_ips, type";

    public async Task<ProxyPage<ContractRow>> ContractsAsync(ContractFilter filter, ProxyLimit limit, CancellationToken cancellationToken)
    {
        if (filter.Unmatchable)
        {
            return new([], 0);
        }

        var (where, parameters) = Conditions(
            ("contract_id = @", filter.ContractId is { } contractId ? Bigint(contractId) : null),
            ("twin_id = @", filter.TwinId is { } twinId ? Bigint(twinId) : null),
            ("node_id = @", filter.NodeId is { } nodeId ? Bigint(nodeId) : null),
            ("state = ANY(@)", filter.States is { } states ? new NpgsqlParameter<string[]> { TypedValue = states } : null),
            ("public_ips >= @", filter.PublicIps is { } publicIps ? Bigint(publicIps) : null),
            ("type = @", filter.Type is { } type ? new NpgsqlParameter<string> { TypedValue = type } : null),
            ("farm_id = @", filter.FarmId is { } farmId ? Bigint(farmId) : null),
            ("farm_id IN (SELECT farm_id FROM grid_proxy_farm WHERE lower(name) = lower(@))",
                filter.FarmName is { } farmName ? new NpgsqlParameter<string> { TypedValue = farmName } : null));
        var key = limit.SortBy switch
        {
            "twin_id" => "twin_id",
            "created_at" => "created_at",
            "state" => "state COLLATE \"C\"",
            "type" => "type COLLATE \"C\"",
            _ => null,
        };
        return await PageAsync("grid_proxy_contract", ContractColumns, where, Order(limit, key, "contract_id"), limit, parameters,
            ReadContract, cancellationToken);
    }

    public async Task<ContractRow?> ContractAsync(long contractId, CancellationToken cancellationToken) =>
        (await ReadAsync($"SELECT {ContractColumns} FROM grid_proxy_contract WHERE contract_id = $1", [Bigint(contractId)], ReadContract, cancellationToken))
            .SingleOrDefault();

    public async Task<ProxyPage<BillRow>> BillsAsync(long contractId, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(
            $"SELECT sequence, amount, billed_at FROM grid_proxy_bill WHERE contract_id = $1 ORDER BY billed_at DESC, sequence DESC {Page(limit)}",
            [Bigint(contractId)], r => new BillRow(contractId, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)), cancellationToken);
        var total = limit.RetCount ? await CountAsync("SELECT count(*) FROM grid_proxy_bill WHERE contract_id = $1", [Bigint(contractId)], cancellationToken) : 0;
        return new(rows, total);
    }

    public async Task<ProxyPage<TwinRow>> TwinsAsync(long? twinId, ProxyLimit limit, CancellationToken cancellationToken)
    {
        var where = twinId is null ? "true" : "twin_id = $1";
        List<NpgsqlParameter> parameters = twinId is { } id ? [Bigint(id)] : [];
        return await PageAsync("grid_proxy_twin", "twin_id, name", where, Order(limit, null, "twin_id"), limit, parameters,
            r => new TwinRow(r.GetInt64(0), r.GetString(1)), cancellationToken);
    }

    public async Task<TwinBilling> BillingAsync(long twinId, CancellationToken cancellationToken)
    {
        var live = await ReadAsync(
            $"""
            SELECT created_at, bill_count, last_bill_amount, last_bill_at, prev_bill_at FROM grid_proxy_contract
            WHERE twin_id = $1 AND bill_count > 0 AND state <> '{ProxyEvents.Deleted}'
            """,
            [Bigint(twinId)],
            r => new LatestBills(r.GetInt64(0), r.GetInt32(1), r.GetInt64(2), r.GetInt64(3), r.IsDBNull(4) ? null : r.GetInt64(4)),
            cancellationToken);
        var overall = await CountAsync("SELECT coalesce(sum(overall), 0)::bigint FROM grid_proxy_consumption WHERE twin_id = $1", [Bigint(twinId)], cancellationToken);
        return new(live, overall);
    }

    public async Task<ProxyTotals> TotalsAsync(CancellationToken cancellationToken)
    {
        var counts = await ReadAsync("SELECT (SELECT count(*) FROM grid_proxy_twin), (SELECT count(*) FROM grid_proxy_contract)", [],
            r => new ProxyTotals(r.GetInt64(0), r.GetInt64(1)), cancellationToken);
        return counts[0];
    }

    public async Task<ProxyPage<FarmRow>> FarmsAsync(FarmFilter filter, ProxyLimit limit, CancellationToken cancellationToken)
    {
        if (filter.Unmatchable || filter.FarmIds is { Count: 0 })
        {
            return new([], 0);
        }

        var (where, parameters) = Conditions(
            ("free_ips >= @", filter.FreeIps is { } freeIps ? Bigint(freeIps) : null),
            ("total_ips >= @", filter.TotalIps is { } totalIps ? Bigint(totalIps) : null),
            ("farm_id = @", filter.FarmId is { } farmId ? Bigint(farmId) : null),
            ("twin_id = @", filter.TwinId is { } twinId ? Bigint(twinId) : null),
            ("lower(name) = lower(@)", filter.Name is { } name ? new NpgsqlParameter<string> { TypedValue = name } : null),
            ("strpos(lower(name), lower(@)) > 0", filter.NameContains is { } part ? new NpgsqlParameter<string> { TypedValue = part } : null),
            ("certification = @", filter.Certification is { } certification ? new NpgsqlParameter<string> { TypedValue = certification } : null),
            ("farm_id = ANY(@)", filter.FarmIds is { } ids ? new NpgsqlParameter<long[]> { TypedValue = [.. ids] } : null));
        var key = limit.SortBy switch
        {
            // As OrdinalIgnoreCase in memory: upper-cased, compared by code point.
            "name" => "upper(name) COLLATE \"C\"",
            "twin_id" => "twin_id",
            "free_ips" => "free_ips",
            "total_ips" or "public_ips" => "total_ips",
            "used_ips" => "(total_ips - free_ips)",
            _ => null,
        };
        var farms = await PageAsync(FarmsWithCounts, "farm_id, twin_id, name, certification", where, Order(limit, key, "farm_id"), limit, parameters,
            r => new FarmRow(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), []), cancellationToken);
        return new(await WithAddressesAsync(farms.Items, cancellationToken), farms.Total);
    }

    public async Task<IReadOnlyList<FarmRow>> AllFarmsAsync(CancellationToken cancellationToken) =>
        await WithAddressesAsync(
            await ReadAsync("SELECT farm_id, twin_id, name, certification FROM grid_proxy_farm ORDER BY farm_id", [],
                r => new FarmRow(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), []), cancellationToken),
            cancellationToken);

    public async Task<ProxyPage<PublicIpRow>> PublicIpsAsync(PublicIpFilter filter, ProxyLimit limit, CancellationToken cancellationToken)
    {
        if (filter.FarmIds is { Count: 0 })
        {
            return new([], 0);
        }

        var (where, parameters) = Conditions(
            ("farm_id = ANY(@)", filter.FarmIds is { } ids ? new NpgsqlParameter<long[]> { TypedValue = [.. ids] } : null),
            ("ip = @", filter.Ip is { } ip ? new NpgsqlParameter<string> { TypedValue = ip } : null),
            ("gateway = @", filter.Gateway is { } gateway ? new NpgsqlParameter<string> { TypedValue = gateway } : null));
        if (filter.Free is { } free)
        {
            where += free ? " AND contract_id = 0" : " AND contract_id <> 0";
        }

        // As FarmOrder.IpsFor: the key, then farm and address, all reversed for desc.
        var direction = limit.Descending && limit.SortBy is not null ? " DESC" : "";
        var byId = $"farm_id{direction}, ip COLLATE \"C\"{direction}";
        var order = limit.Randomize ? "random()" : limit.SortBy switch
        {
            "contract_id" => $"contract_id{direction}, {byId}",
            "farm_id" => byId,
            null => byId,
            _ => $"ip COLLATE \"C\"{direction}, farm_id{direction}",
        };
        return await PageAsync("grid_proxy_public_ip", "farm_id, ip, gateway, contract_id", where, order, limit, parameters, ReadIp, cancellationToken);
    }

    public async Task<int> DeletedContractsAsync(long twinId, CancellationToken cancellationToken) =>
        (int)await CountAsync($"SELECT count(*) FROM grid_proxy_contract WHERE twin_id = $1 AND state = '{ProxyEvents.Deleted}'",
            [Bigint(twinId)], cancellationToken);

    /// <summary>Farms with their address counts, as columns <c>total_ips</c> and <c>free_ips</c> to filter and sort on.</summary>
    private const string FarmsWithCounts =
        """
        grid_proxy_farm f CROSS JOIN LATERAL (
            SELECT count(*) AS total_ips, count(*) FILTER (WHERE p.contract_id = 0) AS free_ips
            FROM grid_proxy_public_ip p WHERE p.farm_id = f.farm_id) counts
        """;

    /// <summary>The farms with their addresses in registration order (one query for the page).</summary>
    private async Task<IReadOnlyList<FarmRow>> WithAddressesAsync(IReadOnlyList<FarmRow> farms, CancellationToken cancellationToken)
    {
        if (farms.Count == 0)
        {
            return farms;
        }

        var ips = (await ReadAsync(
                "SELECT farm_id, ip, gateway, contract_id FROM grid_proxy_public_ip WHERE farm_id = ANY($1) ORDER BY farm_id, position",
                [new NpgsqlParameter<long[]> { TypedValue = [.. farms.Select(f => f.FarmId)] }], ReadIp, cancellationToken))
            .ToLookup(ip => ip.FarmId);
        return [.. farms.Select(f => f with { PublicIps = [.. ips[f.FarmId]] })];
    }

    /// <summary>A WHERE of the given conditions whose parameter is set (<c>@</c> stands for it), and those parameters.</summary>
    private static (string Where, List<NpgsqlParameter> Parameters) Conditions(params (string Condition, NpgsqlParameter? Parameter)[] conditions)
    {
        var where = new StringBuilder("true");
        var parameters = new List<NpgsqlParameter>();
        foreach (var (condition, parameter) in conditions)
        {
            if (parameter is not null)
            {
                parameters.Add(parameter);
                where.Append(" AND ").Append(condition.Replace("@", "$" + parameters.Count, StringComparison.Ordinal));
            }
        }

        return (where.ToString(), parameters);
    }

    private static PublicIpRow ReadIp(NpgsqlDataReader r) => new(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64(3));

    /// <summary>The ORDER BY of a page: <paramref name="key"/> then the id (both reversed for desc), or random.</summary>
    private static string Order(ProxyLimit limit, string? key, string id)
    {
        if (limit.Randomize)
        {
            return "random()";
        }

        // As the in-memory comparers: sort_order only applies once a sort_by is given.
        var direction = limit.Descending && limit.SortBy is not null ? " DESC" : "";
        return key is null ? id + direction : $"{key}{direction}, {id}{direction}";
    }

    private static string Page(ProxyLimit limit) => $"LIMIT {limit.Size} OFFSET {limit.Skip}";

    /// <summary>
    /// One page in one round trip: with <c>ret_count</c> the total rides on every row (<c>count(*) OVER ()</c>, computed
    /// before LIMIT); only a page past the end, which has no row to carry it, costs a second query.
    /// </summary>
    private async Task<ProxyPage<T>> PageAsync<T>(
        string table, string columns, string where, string order, ProxyLimit limit, IReadOnlyList<NpgsqlParameter> parameters,
        Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        if (!limit.RetCount)
        {
            return new(await ReadAsync($"SELECT {columns} FROM {table} WHERE {where} ORDER BY {order} {Page(limit)}", parameters, read, cancellationToken), 0);
        }

        var total = 0L;
        var rows = await ReadAsync($"SELECT {columns}, count(*) OVER () FROM {table} WHERE {where} ORDER BY {order} {Page(limit)}", parameters, r =>
        {
            total = r.GetInt64(r.FieldCount - 1);
            return read(r);
        }, cancellationToken);
        if (rows.Count == 0 && limit.Skip > 0)
        {
            total = await CountAsync($"SELECT count(*) FROM {table} WHERE {where}", parameters, cancellationToken);
        }

        return new(rows, total);
    }

    private static ContractRow ReadContract(NpgsqlDataReader r) =>
        new(r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt32(6), r.GetString(7));

    private async Task<List<T>> ReadAsync<T>(string sql, IReadOnlyList<NpgsqlParameter> parameters, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand(sql);
        // A parameter belongs to one command: the list and count queries of a page get their own copies.
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter.Clone());
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    private async Task<long> CountAsync(string sql, IReadOnlyList<NpgsqlParameter> parameters, CancellationToken cancellationToken) =>
        (await ReadAsync(sql, parameters, r => r.GetInt64(0), cancellationToken))[0];

    private static NpgsqlParameter<long> Bigint(long value) => new() { TypedValue = value };
}
