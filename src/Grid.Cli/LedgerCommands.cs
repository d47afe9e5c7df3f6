using System.CommandLine;
using System.Text.Json;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid ledger verify</c>, <c>grid ledger keygen</c>, <c>grid account</c> and <c>grid account transactions</c>.</summary>
internal static class LedgerCommands
{
    private const int PageSize = 1000;

    public static Command Ledger()
    {
        var publicKey = new Option<string?>("--public-key")
        {
            Description = "Hex Ed25519 public key every checkpoint must be signed with (default: each checkpoint's own key, which only shows it was not altered)",
        };
        var verify = new Command("verify", "Re-compute the whole ledger from the public API: hash chain, checkpoint signatures, account balances; exits 1 naming the first entry that does not match")
        {
            publicKey,
        };
        verify.SetAction((parse, cancellationToken) => VerifyAsync(parse, parse.GetValue(publicKey), cancellationToken));
        var keygen = new Command("keygen", "Generate an Ed25519 checkpoint signing key: the private key for Grid:Ledger:SigningKey (a secret, the same on every silo) and its public key for verify --public-key");
        keygen.SetAction(parse =>
        {
            var privateKey = LedgerCheckpoints.NewPrivateKey();
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine($"private-key {privateKey}");
            output.WriteLine($"public-key  {LedgerCheckpoints.PublicKeyOf(privateKey)}");
        });
        return new Command("ledger", "The grid's hash-chained record of activity") { verify, keygen };
    }

    public static Command Account()
    {
        var page = new Option<int>("--page") { Description = "Page (50 entries, newest first)", DefaultValueFactory = _ => 1 };
        var transactions = new Command("transactions", "The ledger entries that moved your money, newest first") { page };
        transactions.SetApiAction(
            (parse, api, ct) => api.GetAccountTransactionsAsync(parse.GetValue(page), ct),
            (output, answer) => Output.Table(output, Output.Rows(answer),
                ("SEQ", "seq"), ("AT", "at"), ("KIND", "kind"), ("SUBJECT", "subject"), ("POSTING", "posting"), ("EVENT", "eventId")));
        var account = new Command("account", "Your balance, spent and earned (minor units: 10^7 per currency unit)") { transactions };
        account.SetApiAction((_, api, ct) => api.GetAccountAsync(ct), Output.Fields);
        return account;
    }

    private static async Task<int> VerifyAsync(ParseResult parse, string? publicKey, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        var url = CommonOptions.ApiUrl(parse);
        var key = CommonOptions.ApiKeyValue(parse);
        var api = GridApiClient.Create(url, key);
        LedgerReport report;
        JsonElement? account = null;
        try
        {
            var checkpoints = new List<LedgerCheckpoint>();
            for (var from = 0L; ;)
            {
                var page = Deserialize<List<LedgerCheckpoint>>(await api.GetLedgerCheckpointsAsync(from, cancellationToken));
                checkpoints.AddRange(page);
                if (page.Count == 0)
                {
                    break;
                }

                from = page[^1].Seq + 1;
            }

            var verification = new LedgerVerification(checkpoints, publicKey);
            for (var from = 1L; ;)
            {
                var page = Deserialize<LedgerPage>(await api.GetLedgerAsync(from, PageSize, cancellationToken));
                if (page.Entries.Any(entry => !verification.Add(entry)) || page.Entries.Count < PageSize)
                {
                    break;
                }

                from = page.Next;
            }

            report = verification.Report();
            if (key is not null)
            {
                account = await api.GetAccountAsync(cancellationToken);
            }
        }
        catch (GridApiException e)
        {
            return ApiAction.Fail(parse, $"{e.Title}: {e.Detail} (HTTP {e.Status})", 1);
        }
        catch (HttpRequestException e)
        {
            return ApiAction.Fail(parse, $"cannot reach the controller at {url}: {e.Message}", 1);
        }
        catch (JsonException e)
        {
            return ApiAction.Fail(parse, $"the controller's answer is not a ledger: {e.Message}", 1);
        }

        var accountProblem = report.Ok && account is { } mine ? CompareAccount(mine, report) : null;
        if (parse.GetValue(CommonOptions.Json))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                ok = report.Ok && accountProblem is null,
                entries = report.Entries,
                head = report.Head,
                checkpoints = report.Checkpoints,
                accounts = report.Accounts.Count,
                badSeq = report.BadSeq,
                problem = report.Problem ?? accountProblem,
            }, GridJson.Indented));
        }
        else if (report.Ok && accountProblem is null)
        {
            output.WriteLine($"ledger verified: {report.Entries} entries, head {report.Head}");
            output.WriteLine($"checkpoints: {report.Checkpoints} signatures valid{(publicKey is null ? " (each against its own key; pass --public-key to pin the grid's key)" : $" by {publicKey}")}");
            output.WriteLine($"accounts: {report.Accounts.Count} folded, money in circulation {MoneyText.Format(report.Accounts.Values.Sum(a => a.Balance))}{(account is null ? "" : ", yours matches")}");
        }

        if (!report.Ok)
        {
            return ApiAction.Fail(parse, $"ledger does not verify at sequence number {report.BadSeq}: {report.Problem}", 1);
        }

        return accountProblem is null ? 0 : ApiAction.Fail(parse, accountProblem, 1);
    }

    /// <summary>The caller's account as the API shows it against the fold of the verified entries.</summary>
    private static string? CompareAccount(JsonElement account, LedgerReport report)
    {
        var twinId = account.GetProperty("twinId").GetInt64();
        var folded = report.Accounts.GetValueOrDefault(twinId, AccountTotals.Empty);
        var shown = (account.GetProperty("balance").GetInt64(), account.GetProperty("spent").GetInt64(), account.GetProperty("earned").GetInt64());
        return shown == (folded.Balance, folded.Spent, folded.Earned) ? null
            : $"account {twinId} shows balance/spent/earned {shown}, the ledger folds to ({folded.Balance}, {folded.Spent}, {folded.Earned})";
    }

    private static T Deserialize<T>(JsonElement json) => json.Deserialize<T>(GridJson.Options) ?? throw new JsonException("empty answer");
}
