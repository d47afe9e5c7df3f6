using System.CommandLine;
using System.Text.Json;
using Grid.Client;

namespace Grid.Cli;

/// <summary>Runs a client command: builds the API client, prints the answer, turns failures into exit codes.</summary>
internal static class ApiAction
{
    /// <summary>
    /// Sets <paramref name="command"/>'s action to call the controller. The answer is printed as JSON with
    /// <c>--json</c>, else by <paramref name="human"/>. Errors go to stderr as the ProblemDetails title and detail.
    /// </summary>
    public static void SetApiAction(
        this Command command,
        Func<ParseResult, GridApiClient, CancellationToken, Task<JsonElement>> call,
        Action<TextWriter, JsonElement> human,
        bool needsApiKey = true)
    {
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var key = CommonOptions.ApiKeyValue(parse);
            if (needsApiKey && key is null)
            {
                return Fail(parse, "no api key: pass --api-key or set GRID_API_KEY (create one with 'grid twins create')", 2);
            }

            var url = CommonOptions.ApiUrl(parse);
            try
            {
                var answer = await call(parse, GridApiClient.Create(url, key), cancellationToken);
                if (parse.GetValue(CommonOptions.Json))
                {
                    output.WriteLine(Output.Json(answer));
                }
                else
                {
                    // Amounts in the answer's currency (else the grid's default), to the cent unless --exact.
                    var currency = answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("currency", out var named)
                        && named.ValueKind == JsonValueKind.String ? named.GetString()! : "USD";
                    using var money = MoneyText.Use(currency, parse.GetValue(CommonOptions.Exact));
                    human(output, answer);
                }

                return 0;
            }
            catch (GridApiException e)
            {
                return Fail(parse, e.Detail is null ? $"{e.Title} (HTTP {e.Status})" : $"{e.Title}: {e.Detail} (HTTP {e.Status})", 1);
            }
            catch (HttpRequestException e)
            {
                return Fail(parse, $"cannot reach the controller at {url}: {e.Message}", 1);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Fail(parse, $"the controller at {url} did not answer in time", 1);
            }
        });
    }

    /// <summary>Writes <c>error: message</c> to stderr and returns <paramref name="exitCode"/>.</summary>
    public static int Fail(ParseResult parse, string message, int exitCode)
    {
        parse.InvocationConfiguration.Error.WriteLine($"error: {message}");
        return exitCode;
    }
}
