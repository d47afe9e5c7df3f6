using System.Collections.Immutable;
using System.CommandLine;
using Grid.Client;

namespace Grid.Cli;

/// <summary><c>grid reserve</c>, <c>grid quote</c> and <c>grid reservations list|show|cancel|events|bills</c>.</summary>
internal static class ReservationCommands
{
    private static readonly (string, string)[] s_columns =
    [
        ("ID", "reservationId"), ("STATE", "state"), ("NODE", "nodeId"), ("EPOCH", "epoch"),
        ("CRU", "resources.cru"), ("MRU", "resources.mru"), ("SRU", "resources.sru"), ("HRU", "resources.hru"), ("IPV4", "resources.ipv4"),
        ("PRIORITY", "priority"), ("SPOT", "spot"),
    ];

    public static Command Reserve()
    {
        var options = new RequestOptions();
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Retrying with the same key returns the first result" };
        var reserve = new Command("reserve", "Reserve capacity; the controller picks a node") { idempotencyKey };
        options.AddTo(reserve);
        reserve.SetApiAction(
            (parse, api, ct) => api.ReserveAsync(options.Request(parse), parse.GetValue(idempotencyKey), ct),
            (output, reservation) => output.WriteLine(
                $"reservation {Output.Cell(reservation, "reservationId")} {Output.Cell(reservation, "state")} on node {Output.Cell(reservation, "nodeId")} (epoch {Output.Cell(reservation, "epoch")})"
                + (Output.Cell(reservation, "pricePerHour") is { Length: > 0 } price ? $", {price} per hour" : "")
                + (Output.Cell(reservation, "spot") == "true" ? ", spot" : "")
                + (Output.Cell(reservation, "priority") is { Length: > 0 } priority ? $", priority {priority}" : "")
                + (Output.Cell(reservation, "publicIps") is { Length: > 0 } ips and not "[]" ? $", public IPs {ips}" : "")));
        return reserve;
    }

    /// <summary><c>grid quote</c>: the same options as <c>grid reserve</c>; nothing is placed.</summary>
    public static Command Quote()
    {
        var options = new RequestOptions();
        var quote = new Command("quote", "What a reservation would cost per hour and per 30 days on the node that would be chosen (minor units); nothing is placed");
        options.AddTo(quote);
        quote.SetApiAction((parse, api, ct) => api.QuoteAsync(options.Request(parse), ct), Output.Fields);
        return quote;
    }

    public static Command Reservations()
    {
        var id = new Argument<long>("reservation-id") { Description = "Reservation id" };

        var list = new Command("list", "List your reservations");
        list.SetApiAction((_, api, ct) => api.ListReservationsAsync(ct), (output, all) => Output.Table(output, Output.Rows(all), s_columns));

        var show = new Command("show", "Show a reservation") { id };
        show.SetApiAction((parse, api, ct) => api.GetReservationAsync(parse.GetValue(id), ct), Output.Fields);

        var cancel = new Command("cancel", "Cancel a reservation: frees its capacity and IPs, deletes its workloads") { id };
        cancel.SetApiAction((parse, api, ct) => api.CancelReservationAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("reservation cancelled"));

        var events = new Command("events", "What happened to a reservation: placed, moved, preempted (by whom), failed, cancelled") { id };
        events.SetApiAction(
            (parse, api, ct) => api.ReservationEventsAsync(parse.GetValue(id), ct),
            (output, all) => Output.Table(output, Output.Rows(all), ("AT", "at"), ("KIND", "kind"), ("NODE", "nodeId"), ("EPOCH", "epoch"), ("MESSAGE", "message")));

        return new Command("reservations", "Your claims on capacity") { list, show, cancel, events, BillingCommands.Bills(id) };
    }

    /// <summary>The options describing a reservation, shared by <c>grid reserve</c> and <c>grid quote</c>.</summary>
    private sealed class RequestOptions
    {
        private readonly Option<long> _cru = new("--cru") { Description = "Logical cores", DefaultValueFactory = _ => 1 };
        private readonly Option<long?> _mru = CommonOptions.Size("--mru", "RAM");
        private readonly Option<long?> _sru = CommonOptions.Size("--sru", "SSD");
        private readonly Option<long?> _hru = CommonOptions.Size("--hru", "HDD");
        private readonly Option<int> _ipv4 = new("--ipv4") { Description = "Public IPv4 addresses" };
        private readonly Option<long[]> _farms = new("--farm") { Description = "Only on these farms (repeatable)", AllowMultipleArgumentsPerToken = true };
        private readonly Option<string?> _country = new("--country") { Description = "Only in this country" };
        private readonly Option<bool?> _certified = new("--certified") { Description = "Only on certified nodes" };
        private readonly Option<long?> _node = new("--node") { Description = "Pin to this node" };
        private readonly Option<string?> _antiAffinity = new("--anti-affinity") { Description = "No two of your reservations of this group on one node" };
        private readonly Option<long?> _maxPrice = new("--max-price") { Description = "Only on nodes where it costs at most this per hour (minor units)" };
        private readonly Option<string[]> _features = new("--feature") { Description = "Only on nodes that can run this: container, process, kvm, gateway (repeatable)" };
        private readonly Option<PlacementStrategy?> _strategy = new("--strategy") { Description = "binpack (default), spread or cheapest" };
        private readonly Option<long?> _provider = new("--provider") { Description = "The approved solution provider (twin id) this reservation pays a share to" };
        private readonly Option<int?> _priority = new("--priority") { Description = "0-100 (default 50): may preempt reservations at least 10 points lower when nothing fits" };
        private readonly Option<bool> _spot = new("--spot") { Description = "Spot capacity: cheaper, preemptible by any reservation that is not spot" };
        private readonly Option<int?> _gpu = new("--gpu") { Description = "Whole GPUs, each held by this reservation alone" };
        private readonly Option<string[]> _gpuModels = new("--gpu-model") { Description = "Only GPUs of this model, e.g. A100 (repeatable)" };
        private readonly Option<string?> _near = new("--near") { Description = "On the nearest node within a distance: LAT,LON:MAXKM, e.g. 51.05,3.72:500" };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[]
                     {
                         _cru, _mru, _sru, _hru, _ipv4, _farms, _country, _certified, _node, _antiAffinity, _maxPrice, _features, _strategy, _provider, _priority, _spot,
                         _gpu, _gpuModels, _near,
                     })
            {
                command.Options.Add(option);
            }
        }

        public CreateReservationRequest Request(ParseResult parse)
        {
            var resources = new ResourcesRequest(parse.GetValue(_cru), parse.GetValue(_mru) ?? 0, parse.GetValue(_sru) ?? 0, parse.GetValue(_hru) ?? 0, parse.GetValue(_ipv4),
                parse.GetValue(_gpu));
            var constraints = new ConstraintsRequest(
                parse.GetValue(_farms) is { Length: > 0 } ids ? ids.ToImmutableArray() : null,
                parse.GetValue(_country),
                parse.GetValue(_certified),
                parse.GetValue(_node),
                parse.GetValue(_antiAffinity),
                parse.GetValue(_maxPrice),
                parse.GetValue(_features) is { Length: > 0 } features ? features.ToImmutableArray() : null,
                parse.GetValue(_gpuModels) is { Length: > 0 } models ? models.ToImmutableArray() : null,
                parse.GetValue(_near) is { } near ? Near(near) : null);
            return new CreateReservationRequest(resources, constraints == new ConstraintsRequest() ? null : constraints, parse.GetValue(_strategy),
                parse.GetValue(_provider), parse.GetValue(_priority), parse.GetValue(_spot) ? true : null);
        }

        /// <summary>
        /// <c>LAT,LON:MAXKM</c> as the request's <c>near</c>; what does not read as numbers is sent as missing, so the
        /// controller's 400 names the field.
        /// </summary>
        internal static NearRequest Near(string text)
        {
            var (point, km) = text.Split(':', 2) is [var p, var k] ? (p, k) : (text, "");
            var parts = point.Split(',', 2);
            static double? Number(string value) =>
                double.TryParse(value.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : null;
            return new NearRequest(Number(parts[0]), parts.Length == 2 ? Number(parts[1]) : null, Number(km));
        }
    }
}
