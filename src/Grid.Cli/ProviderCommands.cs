using System.CommandLine;
using Grid.Client;

namespace Grid.Cli;

/// <summary>
/// <c>grid providers add|list</c>: the operator's solution providers (<c>--api-key</c> is the operator key);
/// <c>grid providers earnings</c>: what one earned (the provider's own key, or the operator's).
/// </summary>
internal static class ProviderCommands
{
    public static Command Build()
    {
        var twin = new Argument<long>("twin-id") { Description = "The provider's twin" };
        var share = new Argument<decimal>("share") { Description = "Its share of the grid's part of each bill line: more than 0, at most 0.5" };
        var add = new Command("add", "Operator only: approve a solution provider (or change its share)") { twin, share };
        add.SetApiAction((parse, api, ct) => api.ApproveProviderAsync(new ApproveProviderRequest(parse.GetValue(twin), parse.GetValue(share)), ct), Output.Fields);

        var list = new Command("list", "Operator only: the approved solution providers");
        list.SetApiAction((_, api, ct) => api.ListProvidersAsync(ct), (output, all) => Output.Table(output, Output.Rows(all),
            ("TWIN", "twinId"), ("SHARE", "share"), ("APPROVED", "approvedAt")));

        var provider = new Argument<long>("twin-id") { Description = "The provider's twin" };
        var earnings = new Command("earnings", "What a solution provider earned: its own (the provider's key) or any (the operator key)") { provider };
        earnings.SetApiAction((parse, api, ct) => api.ProviderEarningsAsync(parse.GetValue(provider), ct), Output.Fields);

        return new Command("providers", "Solution providers: paid a share of the grid's part of the bills of reservations made with them") { add, list, earnings };
    }
}
