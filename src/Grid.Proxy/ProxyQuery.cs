using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Grid.Proxy;

/// <summary>
/// The grid proxy's query string, read the way its server reads it (gorilla/schema): empty values are ignored,
/// lists are comma-separated, booleans follow Go's <c>strconv.ParseBool</c>, and a parameter the endpoint does not
/// know is an error. Every problem is collected by parameter name and answered as one 400.
/// </summary>
public sealed class ProxyQuery
{
    /// <summary>The largest page a client may ask for (the grid proxy has no cap; an unbounded page is a denial of service).</summary>
    public const int MaxSize = 1000;

    public const int DefaultSize = 50;

    /// <summary>The paging and sorting parameters every list endpoint accepts (the grid proxy's <c>types.Limit</c>).</summary>
    public static readonly string[] LimitParameters = ["page", "size", "ret_count", "randomize", "sort_by", "sort_order", "balance"];

    private static readonly string[] TrueWords = ["1", "t", "T", "TRUE", "true", "True"];
    private static readonly string[] FalseWords = ["0", "f", "F", "FALSE", "false", "False"];

    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);
    private string? _firstError;

    public ProxyQuery(IQueryCollection query, IEnumerable<string> known)
    {
        var allowed = known.ToHashSet(StringComparer.Ordinal);
        foreach (var (name, values) in query)
        {
            var present = values.Where(v => !string.IsNullOrEmpty(v)).ToArray();
            if (present.Length == 0)
            {
                continue;
            }

            if (!allowed.Contains(name))
            {
                Fail(name, "is not a parameter of this endpoint.");
                continue;
            }

            // Repeated list parameters (?state=a&state=b) mean the same as one comma-separated value.
            _values[name] = string.Join(',', present);
        }
    }

    public bool IsValid => _errors.Count == 0;

    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The 400 naming the parameters; <c>error</c> carries the first message, as the grid proxy's body does.</summary>
    public ValidationProblem Problem() =>
        TypedResults.ValidationProblem(
            _errors.ToDictionary(e => e.Key, e => e.Value.ToArray()),
            detail: _firstError,
            title: "Bad query parameter",
            extensions: new Dictionary<string, object?> { ["error"] = _firstError });

    public string? Text(string name) => _values.GetValueOrDefault(name);

    public long? Natural(string name)
    {
        if (!_values.TryGetValue(name, out var raw))
        {
            return null;
        }

        if (long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        Fail(name, $"must be a non-negative integer, got '{Clip(raw)}'.");
        return null;
    }

    public double? Number(string name)
    {
        if (!_values.TryGetValue(name, out var raw))
        {
            return null;
        }

        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
        {
            return value;
        }

        Fail(name, $"must be a number, got '{Clip(raw)}'.");
        return null;
    }

    public bool? Bool(string name)
    {
        if (!_values.TryGetValue(name, out var raw))
        {
            return null;
        }

        if (TrueWords.Contains(raw))
        {
            return true;
        }

        if (FalseWords.Contains(raw))
        {
            return false;
        }

        Fail(name, $"must be true or false, got '{Clip(raw)}'.");
        return null;
    }

    public string[]? List(string name) =>
        _values.TryGetValue(name, out var raw) ? raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;

    /// <summary>A comma-separated list where every item must be one of <paramref name="allowed"/> (case-insensitive).</summary>
    public string[]? OneOf(string name, params string[] allowed)
    {
        var items = List(name);
        if (items is null)
        {
            return null;
        }

        var wrong = items.FirstOrDefault(i => !allowed.Contains(i, StringComparer.OrdinalIgnoreCase));
        if (wrong is not null)
        {
            Fail(name, $"'{Clip(wrong)}' is not one of {string.Join(", ", allowed)}.");
            return null;
        }

        return [.. items.Select(i => allowed.First(a => a.Equals(i, StringComparison.OrdinalIgnoreCase)))];
    }

    public HashSet<long>? NaturalList(string name)
    {
        var items = List(name);
        if (items is null)
        {
            return null;
        }

        var result = new HashSet<long>();
        foreach (var item in items)
        {
            if (!long.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                Fail(name, $"must be a comma-separated list of non-negative integers, got '{Clip(item)}'.");
                return null;
            }

            result.Add(value);
        }

        return result;
    }

    /// <summary>Paging and sorting; <paramref name="sortKeys"/> are the endpoint's keys (the grid proxy's <c>sort</c> tags).</summary>
    public ProxyLimit Limit(IReadOnlyCollection<string> sortKeys)
    {
        var page = Natural("page") ?? 1;
        if (page < 1)
        {
            Fail("page", "must be at least 1.");
        }

        var size = Natural("size") ?? DefaultSize;
        if (size is < 1 or > MaxSize)
        {
            Fail("size", $"must be between 1 and {MaxSize}.");
        }

        var sortBy = Text("sort_by");
        if (sortBy is not null && !sortKeys.Contains(sortBy))
        {
            Fail("sort_by", $"'{Clip(sortBy)}' is not a sort field here; use one of {string.Join(", ", sortKeys)}.");
        }

        var order = Text("sort_order");
        var descending = false;
        if (order is not null)
        {
            if (order.Equals("desc", StringComparison.OrdinalIgnoreCase))
            {
                descending = true;
            }
            else if (!order.Equals("asc", StringComparison.OrdinalIgnoreCase))
            {
                Fail("sort_order", $"'{Clip(order)}' is not a valid sort order (asc or desc).");
            }
        }

        var retCount = Bool("ret_count") ?? false;
        var randomize = Bool("randomize") ?? false;
        Number("balance");
        return new ProxyLimit((int)Math.Clamp(page, 1, int.MaxValue / MaxSize), (int)Math.Clamp(size, 1, MaxSize), retCount, randomize, sortBy, descending);
    }

    public void Fail(string name, string message)
    {
        _firstError ??= $"{name}: {message}";
        if (!_errors.TryGetValue(name, out var messages))
        {
            _errors[name] = messages = [];
        }

        messages.Add(message);
    }

    private static string Clip(string value) => value.Length <= 40 ? value : value[..40] + "…";
}

/// <summary>One page of a list: 1-based <see cref="Page"/>, and the total in a <c>count</c> header when asked.</summary>
public sealed record ProxyLimit(int Page, int Size, bool RetCount, bool Randomize, string? SortBy, bool Descending)
{
    public int Skip => (Page - 1) * Size;

    /// <summary>
    /// Sorts (by the key <paramref name="comparerFor"/> gives for <c>sort_by</c>, else by the endpoint's default), then
    /// cuts the page. <c>randomize</c> shuffles instead, as the grid proxy's <c>ORDER BY random()</c> does.
    /// </summary>
    public List<T> Apply<T>(IEnumerable<T> items, Func<string, IComparer<T>> comparerFor, IComparer<T> byDefault)
    {
        if (Randomize)
        {
            var shuffled = items.ToArray();
            Random.Shared.Shuffle(shuffled);
            return [.. shuffled.Skip(Skip).Take(Size)];
        }

        var ascending = SortBy is null ? byDefault : comparerFor(SortBy);
        var comparer = Descending && SortBy is not null ? Comparer<T>.Create((a, b) => ascending.Compare(b, a)) : ascending;

        // Order + Skip + Take sorts only as far as the page needs (a partial quicksort), not the whole list.
        return [.. items.Order(comparer).Skip(Skip).Take(Size)];
    }

    /// <summary>Adds the grid proxy's <c>count</c>, <c>size</c> and <c>pages</c> headers when <c>ret_count</c> was set.</summary>
    public void WriteCount(HttpResponse response, long total)
    {
        if (!RetCount)
        {
            return;
        }

        response.Headers["count"] = total.ToString(CultureInfo.InvariantCulture);
        response.Headers["size"] = Size.ToString(CultureInfo.InvariantCulture);
        response.Headers["pages"] = ((total + Size - 1) / Size).ToString(CultureInfo.InvariantCulture);
    }
}
