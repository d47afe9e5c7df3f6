using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Grid.Cli;

/// <summary>
/// <c>grid prices</c>, <c>grid reservations bills</c>, <c>grid farms earnings</c>, <c>grid deposit</c> and
/// <c>grid withdraw</c>. Amounts are minor units (10^7 per currency unit), as the API gives them: integers, so
/// what is printed is exactly what the ledger holds.
/// </summary>
internal static class BillingCommands
{
    public static Command Prices()
    {
        var prices = new Command("prices", "The default price list and every farm's own list (minor units per unit-hour; NU per GB proxied, empty: the default's)");
        prices.SetApiAction(
            (_, api, ct) => api.GetPricesAsync(ct),
            (output, answer) =>
            {
                output.WriteLine($"currency {Output.Cell(answer, "currency")}, certified nodes +{Output.Cell(answer, "certifiedMarkupPercent")} %");
                // The default list is the first row, so one table shows what every farm charges.
                JsonElement[] rows =
                [
                    JsonSerializer.SerializeToElement(new { farmId = "default", prices = answer.GetProperty("default") }),
                    .. Output.Rows(answer.GetProperty("farms")),
                ];
                Output.Table(output, rows, ("FARM", "farmId"), ("CU/H", "prices.cu"), ("SU/H", "prices.su"), ("IPU/H", "prices.ipu"),
                    ("NU/GB", "prices.nu"), ("NAME/H", "prices.name"));
            });
        return prices;
    }

    /// <summary><c>grid reservations bills ID</c>: a reservation's bills, newest first.</summary>
    public static Command Bills(Argument<long> id)
    {
        var bills = new Command("bills", "A reservation's bills, newest first (amounts in minor units)") { id };
        bills.SetApiAction(
            (parse, api, ct) => api.GetBillsAsync(parse.GetValue(id), ct),
            (output, all) => Output.Table(output, Output.Rows(all),
                ("BILL", "billId"), ("SEQ", "sequence"), ("FROM", "from"), ("TO", "to"), ("AMOUNT", "amount"), ("LINES", "lines")));
        return bills;
    }

    /// <summary><c>grid farms earnings ID [--from --to]</c>: the farmer's share of what the farm's nodes served.</summary>
    public static Command Earnings()
    {
        var id = new Argument<long>("farm-id") { Description = "Farm id" };
        var from = Time("--from", "Start (UTC, e.g. 2026-11-01; default: 30 days before --to)");
        var to = Time("--to", "End, exclusive (UTC; default: the end of today)");
        var earnings = new Command("earnings", "What your farm's nodes earned you, per node (minor units)") { id, from, to };
        earnings.SetApiAction(
            (parse, api, ct) => api.GetEarningsAsync(parse.GetValue(id), parse.GetValue(from), parse.GetValue(to), ct),
            (output, answer) =>
            {
                output.WriteLine($"farm {Output.Cell(answer, "farmId")} earned {Output.Cell(answer, "amount")} from {Output.Cell(answer, "from")} to {Output.Cell(answer, "to")}");
                Output.Table(output, Output.Rows(answer.GetProperty("nodes")), ("NODE", "nodeId"), ("SECONDS", "seconds"), ("AMOUNT", "amount"));
            });
        return earnings;
    }

    /// <summary><c>grid deposit TWIN AMOUNT</c>, sent with the operator key as <c>--api-key</c>.</summary>
    public static Command Deposit()
    {
        var twin = new Argument<long>("twin-id") { Description = "Twin whose account is credited" };
        var amount = Amount();
        var idempotencyKey = IdempotencyKey();
        var deposit = new Command("deposit", "Operator only (--api-key is the operator key): credit a twin's account; reservations in grace it covers resume")
        {
            twin, amount, idempotencyKey,
        };
        deposit.SetApiAction((parse, api, ct) => api.DepositAsync(parse.GetValue(twin), parse.GetValue(amount), parse.GetValue(idempotencyKey), ct), Output.Fields);
        return deposit;
    }

    /// <summary><c>grid withdraw AMOUNT</c>: records a withdrawal of the caller's balance.</summary>
    public static Command Withdraw()
    {
        var amount = Amount();
        var idempotencyKey = IdempotencyKey();
        var withdraw = new Command("withdraw", "Record a withdrawal of your balance (never below zero)") { amount, idempotencyKey };
        withdraw.SetApiAction((parse, api, ct) => api.WithdrawAsync(parse.GetValue(amount), parse.GetValue(idempotencyKey), ct), Output.Fields);
        return withdraw;
    }

    private static Argument<long> Amount() => new("amount") { Description = "Minor units (10^7 per currency unit)" };

    private static Option<string?> IdempotencyKey() =>
        new("--idempotency-key") { Description = "Retrying with the same key records the money once" };

    /// <summary>A time option read as UTC unless it names its offset.</summary>
    private static Option<DateTimeOffset?> Time(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            {
                return time;
            }

            result.AddError($"'{text}' is not a time like 2026-11-01 or 2026-11-01T12:00:00Z.");
            return null;
        },
    };
}
