%% The OTP `pg` yardstick of the process-group benchmark (driven by pg_vs_otp.py).
%%
%% Every node of the benchmark runs this module (`-run pg_otp node_main ...`):
%%   * the driver node (role `driver`) reads one Erlang term per line on standard input, runs the
%%     command and prints one line `RESULT <json>` on standard output; end of input halts the node;
%%   * the other nodes (role `watchdog`) halt when their standard input closes, so nothing outlives
%%     the Python script even if it dies;
%%   * a node started for the sync measurement (extra args `sync_watch Target Peers ReadyFile`) also
%%     starts a local watcher that polls its scope table until it holds Target groups.
%%
%% All groups live in the default scope `pg` (nodes start with `-kernel start_pg true`).
%% Every wait has a deadline; every loop is bounded by its count or by a deadline.
-module(pg_otp).

-export([node_main/1]).
%% called on remote nodes through erpc / spawn
-export([group_count/0, group_count_confirmed/0, mem_snapshot/0, start_holder/1, holder_memory/1,
         holder_join/1, scope_state_bytes/0,
         stop_holder/1, start_agent/0, joiner/3, nodes_seen/0, connect_all/2, dist_stats/0]).
%% internal entry points
-export([holder_init/3, member_idle/0, member_count/3, agent_loop/0, watchdog/0,
         sync_watch/4, driver/0]).

-define(SCOPE, pg).
-define(POLL_MS, 10).

%%% ---------------------------------------------------------------- node start

node_main(Args) ->
    start_roles(Args),
    ok.

start_roles([]) -> ok;
start_roles(["driver" | Rest]) ->
    spawn(?MODULE, driver, []),
    start_roles(Rest);
start_roles(["watchdog" | Rest]) ->
    spawn(?MODULE, watchdog, []),
    start_roles(Rest);
start_roles(["sync_watch", Target, Peers, ReadyFile | Rest]) ->
    spawn(?MODULE, sync_watch, [list_to_integer(Target), list_to_integer(Peers), ReadyFile,
                                 os:system_time(microsecond)]),
    start_roles(Rest).

%% Halts the node when standard input reaches its end (the Python side closes it, or dies).
watchdog() ->
    case io:get_line(standard_io, "") of
        eof -> erlang:halt(0);
        {error, _} -> erlang:halt(0);
        _ -> watchdog()
    end.

%%% ---------------------------------------------------------------- driver loop

driver() ->
    emit(#{event => <<"ready">>, node => node(), otp_release => otp_release(),
           erts => list_to_binary(erlang:system_info(version)),
           schedulers => erlang:system_info(schedulers_online),
           os_pid => list_to_binary(os:getpid())}),
    driver_loop().

driver_loop() ->
    case io:get_line(standard_io, "") of
        eof -> erlang:halt(0);
        {error, _} -> erlang:halt(1);
        Line ->
            Reply =
                try run_command(parse_term(Line)) of
                    R -> #{ok => true, result => R}
                catch
                    Class:Reason:Stack ->
                        #{ok => false,
                          error => iolist_to_binary(io_lib:format("~p:~0p ~0p",
                                                                  [Class, Reason, lists:sublist(Stack, 5)]))}
                end,
            emit(Reply),
            driver_loop()
    end.

parse_term(Line) ->
    {ok, Tokens, _} = erl_scan:string(unicode:characters_to_list(Line)),
    {ok, Term} = erl_parse:parse_term(Tokens),
    Term.

emit(Map) ->
    io:put_chars(standard_io, ["RESULT ", json(Map), "\n"]).

otp_release() ->
    Rel = erlang:system_info(otp_release),
    File = filename:join([code:root_dir(), "releases", Rel, "OTP_VERSION"]),
    case file:read_file(File) of
        {ok, Bin} -> string:trim(Bin);
        _ -> list_to_binary(Rel)
    end.

%%% ---------------------------------------------------------------- commands

run_command(ping) -> #{node => node(), nodes => nodes()};
run_command({connect, Nodes, TimeoutMs}) -> connect(Nodes, deadline(TimeoutMs));
run_command({broadcast, Nodes, Members, Broadcasts, Repeats, TimeoutMs}) ->
    broadcast(Nodes, Members, Broadcasts, Repeats, deadline(TimeoutMs));
run_command({join_visible, Nodes, Samples, TimeoutMs}) ->
    join_visible(Nodes, Samples, deadline(TimeoutMs));
run_command({memory, Local, Remote, Nodes, Groups, TimeoutMs}) ->
    memory(Local, Remote, Nodes, Groups, deadline(TimeoutMs));
run_command({setup_groups, Tag, Nodes, Groups, TimeoutMs}) ->
    setup_groups(Tag, Nodes, Groups, deadline(TimeoutMs));
run_command({teardown, Tag, Nodes, TimeoutMs}) ->
    teardown(Tag, Nodes, deadline(TimeoutMs));
run_command({wait_gone, Node, Nodes, TimeoutMs}) ->
    wait_gone(Node, Nodes, deadline(TimeoutMs));
run_command({sync_connect, Node, Target, Nodes, TimeoutMs}) ->
    sync_connect(Node, Target, Nodes, deadline(TimeoutMs)).

%%% ---------------------------------------------------------------- helpers

deadline(TimeoutMs) -> erlang:monotonic_time(millisecond) + TimeoutMs.

left(Deadline) -> max(0, Deadline - erlang:monotonic_time(millisecond)).

%% Polls Fun every PollMs until it returns true; throws {timeout, What} at the deadline.
wait_until(What, Fun, Deadline) ->
    case Fun() of
        true -> ok;
        false ->
            case left(Deadline) of
                0 -> throw({timeout, What});
                L -> timer:sleep(min(?POLL_MS, L)), wait_until(What, Fun, Deadline)
            end
    end.

call(Node, F, A, Deadline) ->
    erpc:call(Node, ?MODULE, F, A, max(1, left(Deadline))).

now_us() -> erlang:monotonic_time(microsecond).

%% Number of groups in the scope: one row per group in the scope's table (named after the scope).
group_count() ->
    case ets:info(?SCOPE, size) of
        undefined -> length(pg:which_groups(?SCOPE));
        N -> N
    end.

group_count_confirmed() -> length(pg:which_groups(?SCOPE)).

counts(Nodes, Deadline) -> [call(N, group_count, [], Deadline) || N <- Nodes].

wait_counts(What, Nodes, Expected, Deadline) ->
    wait_until(What, fun() -> lists:all(fun(C) -> C =:= Expected end, counts(Nodes, Deadline)) end,
               Deadline).

nodes_seen() -> lists:sort(nodes()).

connect_all(Nodes, TimeoutMs) ->
    Deadline = deadline(TimeoutMs),
    [wait_until({connect, N}, fun() -> net_kernel:connect_node(N) end, Deadline)
     || N <- Nodes, N =/= node()],
    ok.

%%% ---------------------------------------------------------------- connect (and check pg works)

connect(Nodes, Deadline) ->
    T0 = now_us(),
    Others = Nodes -- [node()],
    [wait_until({connect, N}, fun() -> net_kernel:connect_node(N) end, Deadline) || N <- Others],
    %% full mesh, asked of every node (global's connect_all would do it too; this makes it certain)
    [call(N, connect_all, [Nodes, left(Deadline)], Deadline) || N <- Others],
    Mesh = lists:sort(Nodes),
    wait_until(full_mesh,
               fun() -> lists:all(fun(N) -> lists:sort([N | call(N, nodes_seen, [], Deadline)]) =:= Mesh end,
                                  Nodes) end,
               Deadline),
    %% each node joins one probe group; every node must see all of them (pg scopes discovered each other)
    0 = lists:max(counts(Nodes, Deadline)),   %% the scope starts empty on every node
    Hs = [{N, call(N, start_holder, [{groups, [{probe, N}]}], Deadline)} || N <- Nodes],
    wait_counts(probe_groups, Nodes, length(Nodes), Deadline),
    [stop_holder_remote(H) || {_, H} <- Hs],
    wait_counts(probe_groups_gone, Nodes, 0, Deadline),
    #{nodes => Nodes, connect_ms => (now_us() - T0) / 1000}.

%%% ---------------------------------------------------------------- member holders

%% Spawns, on this node, a holder process that spawns one idle member per group (linked to the
%% holder) and joins it to that group; returns once all joined. Killing the holder kills the members.
start_holder({groups, Groups}) ->
    Parent = self(),
    Ref = make_ref(),
    H = spawn(?MODULE, holder_init, [Parent, Ref, {groups, Groups}]),
    receive {Ref, joined} -> H after 600000 -> exit(H, kill), exit(holder_timeout) end;
start_holder({deferred, Groups}) ->
    Parent = self(),
    Ref = make_ref(),
    H = spawn(?MODULE, holder_init, [Parent, Ref, {deferred, Groups}]),
    receive {Ref, spawned} -> H after 600000 -> exit(H, kill), exit(holder_timeout) end;
start_holder({bcast, Group, Count, Broadcasts, Collector}) ->
    Parent = self(),
    Ref = make_ref(),
    H = spawn(?MODULE, holder_init, [Parent, Ref, {bcast, Group, Count, Broadcasts, Collector}]),
    receive {Ref, joined} -> H after 600000 -> exit(H, kill), exit(holder_timeout) end.

holder_init(Parent, Ref, {groups, Groups}) ->
    Members = join_each(Groups, []),
    Parent ! {Ref, joined},
    holder_loop(Members);
holder_init(Parent, Ref, {deferred, Groups}) ->
    %% members first; they join their groups only when told (so memory can be measured in between)
    Pairs = [{G, spawn_link(?MODULE, member_idle, [])} || G <- Groups],
    Parent ! {Ref, spawned},
    receive
        {join, From, JRef} ->
            [ok = pg:join(?SCOPE, G, P) || {G, P} <- Pairs],
            From ! {JRef, joined},
            holder_loop([P || {_, P} <- Pairs])
    end;
holder_init(Parent, Ref, {bcast, Group, Count, Broadcasts, Collector}) ->
    Members = [spawn_link(?MODULE, member_count, [Broadcasts, 0, Collector])
               || _ <- lists:seq(1, Count)],
    ok = pg:join(?SCOPE, Group, Members),
    Parent ! {Ref, joined},
    holder_loop(Members).

join_each([], Acc) -> Acc;
join_each([G | Gs], Acc) ->
    P = spawn_link(?MODULE, member_idle, []),
    ok = pg:join(?SCOPE, G, P),
    join_each(Gs, [P | Acc]).

holder_loop(Members) ->
    receive
        {memory, From, Ref} ->
            Sum = lists:sum([M || P <- Members, {memory, M} <- [erlang:process_info(P, memory)]]),
            {memory, Own} = erlang:process_info(self(), memory),
            From ! {Ref, #{members => length(Members), members_bytes => Sum, holder_bytes => Own}},
            holder_loop(Members);
        stop ->
            exit(stop)   %% linked members die with it
    end.

member_idle() ->
    receive stop -> ok end.

%% A broadcast member: counts deliveries; tells the collector once it has all of them.
member_count(Expected, Expected, Collector) ->
    Collector ! {done, self(), node()},
    receive stop -> ok end;
member_count(Expected, N, Collector) ->
    receive {bcast, _} -> member_count(Expected, N + 1, Collector) end.

holder_join(H) ->
    Ref = make_ref(),
    H ! {join, self(), Ref},
    receive {Ref, joined} -> ok after 600000 -> exit(holder_join_timeout) end.

holder_memory(H) ->
    Ref = make_ref(),
    H ! {memory, self(), Ref},
    receive {Ref, M} -> M after 60000 -> exit(holder_memory_timeout) end.

stop_holder(H) -> exit(H, kill), ok.

stop_holder_remote(H) -> exit(H, kill).

%% Groups Tag spread round-robin over Nodes: group {Tag, I} lives on Nodes[I rem length(Nodes)].
groups_for(Tag, K, NNodes, Total) ->
    [{Tag, I} || I <- lists:seq(K, Total - 1, NNodes)].

%%% ---------------------------------------------------------------- (a) broadcast

broadcast(Nodes, Members, Broadcasts, Repeats, Deadline) ->
    Runs = [broadcast_run(R, Nodes, Members, Broadcasts, Deadline) || R <- lists:seq(1, Repeats)],
    Rates = lists:sort([maps:get(deliveries_per_s, R) || R <- Runs]),
    #{median_deliveries_per_s => median(Rates), runs => Runs,
      members => Members, broadcasts => Broadcasts, deliveries_per_run => Members * Broadcasts}.

broadcast_run(R, Nodes, Members, Broadcasts, Deadline) ->
    Group = {bcast, R},
    NN = length(Nodes),
    %% spread evenly: node K gets Members div NN, the first (Members rem NN) get one more
    Shares = [{N, Members div NN + (if K < Members rem NN -> 1; true -> 0 end)}
              || {K, N} <- lists:zip(lists:seq(0, NN - 1), Nodes)],
    Holders = [call(N, start_holder, [{bcast, Group, C, Broadcasts, self()}], Deadline)
               || {N, C} <- Shares, C > 0],
    wait_until(members_visible,
               fun() -> length(pg:get_members(?SCOPE, Group)) =:= Members end, Deadline),
    Remote = length([P || P <- pg:get_members(?SCOPE, Group), node(P) =/= node()]),
    garbage_collect(),
    Stats0 = dist_stats(),
    Segs0 = tcp_out_segments(),
    Io0 = own_io(),
    T0 = now_us(),
    send_broadcasts(Broadcasts, Group),
    TSent = now_us(),
    LastDone = collect_done(Members, Deadline),
    Stats1 = dist_stats(),
    Segs1 = tcp_out_segments(),
    Io1 = own_io(),
    Elapsed = (LastDone - T0) / 1.0e6,
    Deliveries = Members * Broadcasts,
    [stop_holder_remote(H) || H <- Holders],
    wait_until(members_gone, fun() -> pg:get_members(?SCOPE, Group) =:= [] end, Deadline),
    #{run => R, elapsed_s => Elapsed, deliveries => Deliveries,
      deliveries_per_s => Deliveries / Elapsed,
      send_loop_s => (TSent - T0) / 1.0e6,
      remote_members => Remote,
      remote_messages => Remote * Broadcasts,
      dist => (dist_delta(Stats0, Stats1, Remote * Broadcasts))#{
                tcp_out_segments_all_nodes => seg_delta(Segs0, Segs1),
                driver_write_syscalls => io_delta(syscw, Io0, Io1),
                remote_messages_per_write_syscall =>
                    case io_delta(syscw, Io0, Io1) of
                        W when is_integer(W), W > 0 -> Remote * Broadcasts / W;
                        _ -> null
                    end,
                messages_per_tcp_segment => case seg_delta(Segs0, Segs1) of
                                                D when is_integer(D), D > 0 -> Remote * Broadcasts / D;
                                                _ -> null
                                            end}}.

%% The machine's TCP OutSegs counter (/proc/net/snmp): every segment any process sent, so it is only
%% meaningful on an otherwise quiet machine; it counts the done reports and TCP acks too.
tcp_out_segments() ->
    case file:read_file("/proc/net/snmp") of
        {ok, Bin} ->
            Tcp = [string:lexemes(L, " ") || L <- string:split(Bin, "\n", all),
                                             string:prefix(L, "Tcp:") =/= nomatch],
            case Tcp of
                [Names, Values | _] ->
                    case lists:keyfind(<<"OutSegs">>, 1, lists:zip(Names, Values)) of
                        {_, V} -> binary_to_integer(V);
                        false -> null
                    end;
                _ -> null
            end;
        _ -> null
    end.

%% This OS process's write-family system calls (/proc/self/io syscw: write, writev, ...): the socket
%% writes the distribution made for the driver's sends.
own_io() ->
    case file:read_file("/proc/self/io") of
        {ok, Bin} ->
            maps:from_list([{binary_to_atom(K), binary_to_integer(string:trim(V))}
                            || L <- string:split(Bin, "\n", all),
                               [K, V] <- [string:split(L, ":")], V =/= <<>>]);
        _ -> #{}
    end.

io_delta(K, A, B) ->
    case {maps:find(K, A), maps:find(K, B)} of
        {{ok, X}, {ok, Y}} -> Y - X;
        _ -> null
    end.

seg_delta(A, B) when is_integer(A), is_integer(B) -> B - A;
seg_delta(_, _) -> null.

send_broadcasts(0, _Group) -> ok;
send_broadcasts(N, Group) ->
    Msg = {bcast, N},
    send_all(pg:get_members(?SCOPE, Group), Msg),
    send_broadcasts(N - 1, Group).

send_all([], _) -> ok;
send_all([P | Ps], Msg) -> P ! Msg, send_all(Ps, Msg).

%% Waits for Count done reports; returns the time the last one arrived.
collect_done(0, _Deadline) -> now_us();
collect_done(Count, Deadline) ->
    receive {done, _, _} -> collect_done(Count - 1, Deadline)
    after left(Deadline) -> throw({timeout, {broadcast_done_missing, Count}})
    end.

%% TCP counters of this node's distribution sockets (inet_tcp_dist: the controller is the socket port).
dist_stats() ->
    lists:foldl(
      fun({_Node, Ctrl}, Acc) when is_port(Ctrl) ->
              case inet:getstat(Ctrl, [send_cnt, send_oct, recv_cnt, recv_oct]) of
                  {ok, S} -> [maps:from_list(S) | Acc];
                  _ -> Acc
              end;
         (_, Acc) -> Acc
      end, [], erlang:system_info(dist_ctrl)).

dist_delta(S0, S1, Messages) ->
    Sum = fun(K, L) -> lists:sum([maps:get(K, M, 0) || M <- L]) end,
    Sends = Sum(send_cnt, S1) - Sum(send_cnt, S0),
    Octets = Sum(send_oct, S1) - Sum(send_oct, S0),
    %% send_cnt counts the buffers handed to the socket port (one per distribution message), not
    %% the write system calls the port makes from its queue
    #{port_sends => Sends, bytes_sent => Octets,
      bytes_per_message => case Messages of 0 -> null; _ -> Octets / Messages end}.

%%% ---------------------------------------------------------------- (b) join -> visible everywhere

start_agent() ->
    case whereis(pg_otp_agent) of
        undefined -> ok;
        Old -> exit(Old, kill)
    end,
    P = spawn(?MODULE, agent_loop, []),
    register(pg_otp_agent, P),
    P.

%% Watches one fresh group at a time: monitor it, say ready, time the join notification, and check
%% that get_members agrees at that moment.
agent_loop() ->
    receive
        {watch, From, Ref, Group, TimeoutMs} ->
            {MRef, Already} = pg:monitor(?SCOPE, Group),
            From ! {ready, Ref, node()},
            Result =
                case Already of
                    [_ | _] -> {already, os:system_time(microsecond)};
                    [] ->
                        receive
                            {MRef, join, Group, Pids} ->
                                T = os:system_time(microsecond),
                                Visible = lists:all(fun(P) -> lists:member(P, pg:get_members(?SCOPE, Group)) end,
                                                    Pids),
                                {seen, T, Visible}
                        after TimeoutMs -> timeout
                        end
                end,
            pg:demonitor(?SCOPE, MRef),
            flush_monitor(MRef, 100),
            From ! {seen, Ref, node(), Result},
            agent_loop();
        stop -> ok
    end.

flush_monitor(_MRef, 0) -> ok;
flush_monitor(MRef, N) ->
    receive {MRef, _, _, _} -> flush_monitor(MRef, N - 1) after 0 -> ok end.

joiner(From, Ref, Group) ->
    T0 = os:system_time(microsecond),
    ok = pg:join(?SCOPE, Group, self()),
    T1 = os:system_time(microsecond),
    From ! {joined, Ref, self(), T0, T1},
    receive stop -> ok end.

join_visible(Nodes, Samples, Deadline) ->
    Agents = [{N, call(N, start_agent, [], Deadline)} || N <- Nodes],
    try
        {Lat, JoinCall, Joiners} = join_samples(0, Samples, Nodes, Agents, Deadline, [], [], []),
        [J ! stop || J <- Joiners],
        Sorted = lists:sort(Lat),
        #{samples => length(Sorted),
          p50_ms => percentile(Sorted, 50) / 1000,
          p99_ms => percentile(Sorted, 99) / 1000,
          max_ms => lists:last(Sorted) / 1000,
          min_ms => hd(Sorted) / 1000,
          local_join_call_p50_ms => percentile(lists:sort(JoinCall), 50) / 1000}
    after
        [A ! stop || {_, A} <- Agents]
    end.

join_samples(I, Samples, _Nodes, _Agents, _Deadline, Lat, JC, Js) when I >= Samples -> {Lat, JC, Js};
join_samples(I, Samples, Nodes, Agents, Deadline, Lat, JC, Js) ->
    K = lists:nth(I rem length(Nodes) + 1, Nodes),
    Group = {jv, I},
    Ref = make_ref(),
    Watchers = [A || {N, A} <- Agents, N =/= K],
    [A ! {watch, self(), Ref, Group, max(1, left(Deadline))} || A <- Watchers],
    [receive {ready, Ref, _} -> ok after left(Deadline) -> throw({timeout, agent_ready}) end
     || _ <- Watchers],
    spawn(K, ?MODULE, joiner, [self(), Ref, Group]),
    {JPid, T0, T1} = receive {joined, Ref, P, A0, A1} -> {P, A0, A1}
                     after left(Deadline) -> throw({timeout, joiner}) end,
    Seen = [receive {seen, Ref, _, R} -> R after left(Deadline) -> throw({timeout, seen}) end
            || _ <- Watchers],
    Times = [case S of
                 {seen, T, true} -> T;
                 {already, T} -> T;
                 Other -> throw({bad_sample, I, Other})
             end || S <- Seen],
    join_samples(I + 1, Samples, Nodes, Agents, Deadline,
                 [lists:max([T1 | Times]) - T0 | Lat], [T1 - T0 | JC], [JPid | Js]).

%%% ---------------------------------------------------------------- (d) memory

%% Memory figures of this node after a full garbage collection of every process.
mem_snapshot() ->
    [erlang:garbage_collect(P) || P <- processes()],
    Scope = whereis(?SCOPE),
    {memory, ScopeProc} = erlang:process_info(Scope, memory),
    #{total => erlang:memory(total), processes => erlang:memory(processes),
      ets => erlang:memory(ets), binary => erlang:memory(binary),
      scope_process => ScopeProc,
      scope_table => ets:info(?SCOPE, memory) * erlang:system_info(wordsize),
      process_count => erlang:system_info(process_count)}.

%% Three snapshots on the member node (Local) and on a node that only sees them (Remote):
%%   S0 nothing; S1 the N member processes exist (idle, not yet joined); S2 each joined its own group.
%% Bytes per member = (S2 - S1) / N: the member processes' own memory is in both S1 and S2, so it
%% cancels; what is left is pg's cost (scope table rows, scope process state, the scope's monitor of
%% each member and the monitor's half inside the member, plus whatever the joins left allocated).
memory(Local, Remote, Nodes, Groups, Deadline) ->
    wait_counts(memory_empty_before, Nodes, 0, Deadline),
    L0 = call(Local, mem_snapshot, [], Deadline),
    R0 = call(Remote, mem_snapshot, [], Deadline),
    H = call(Local, start_holder, [{deferred, groups_for(mem, 0, 1, Groups)}], Deadline),
    L1 = call(Local, mem_snapshot, [], Deadline),
    R1 = call(Remote, mem_snapshot, [], Deadline),
    ok = call(Local, holder_join, [H], Deadline),
    wait_counts(memory_groups_visible, Nodes, Groups, Deadline),
    L2 = call(Local, mem_snapshot, [], Deadline),
    R2 = call(Remote, mem_snapshot, [], Deadline),
    LState = call(Local, scope_state_bytes, [], Deadline),
    RState = call(Remote, scope_state_bytes, [], Deadline),
    Own = call(Local, holder_memory, [H], Deadline),
    stop_holder_remote(H),
    wait_counts(memory_groups_gone, Nodes, 0, Deadline),
    D = fun(K, A, B) -> maps:get(K, B) - maps:get(K, A) end,
    PerMember = fun(K, A, B) -> D(K, A, B) / Groups end,
    Scope = fun(A, B) -> (D(scope_process, A, B) + D(scope_table, A, B)) / Groups end,
    #{groups => Groups,
      local_bytes_per_member => PerMember(total, L1, L2),
      remote_bytes_per_member => PerMember(total, R1, R2),
      local_scope_bytes_per_member => Scope(L1, L2),
      remote_scope_bytes_per_member => Scope(R1, R2),
      local_scope_table_bytes_per_member => PerMember(scope_table, L1, L2),
      remote_scope_table_bytes_per_member => PerMember(scope_table, R1, R2),
      local_scope_live_state_bytes_per_member => LState / Groups,
      remote_scope_live_state_bytes_per_member => RState / Groups,
      member_process_bytes_each => PerMember(total, L0, L1),
      local => #{s0_nothing => L0, s1_spawned => L1, s2_joined => L2, holder_report => Own},
      remote => #{s0_nothing => R0, s1_spawned => R1, s2_joined => R2}}.

%% Live size of the scope process's state (sys:get_state), the heap the scope needs after a GC.
scope_state_bytes() ->
    erts_debug:size(sys:get_state(?SCOPE)) * erlang:system_info(wordsize).

%%% ---------------------------------------------------------------- groups for (c) and (e)

setup_groups(Tag, Nodes, Groups, Deadline) ->
    wait_counts({empty_before, Tag}, Nodes, 0, Deadline),
    T0 = now_us(),
    NN = length(Nodes),
    Parent = self(),
    %% the nodes join their shares in parallel
    Starters = [spawn(fun() ->
                              Parent ! {holder, self(),
                                        try call(N, start_holder, [{groups, groups_for(Tag, K, NN, Groups)}],
                                                 Deadline) of
                                            H -> {ok, H}
                                        catch C:E -> {error, {N, C, E}}
                                        end}
                      end)
                || {K, N} <- lists:zip(lists:seq(0, NN - 1), Nodes)],
    Started = [receive {holder, S, R} -> R after left(Deadline) -> {error, timeout} end
               || S <- Starters],
    Hs = [H || {ok, H} <- Started],
    put({holders, Tag}, Hs),
    [throw({holder_failed, E}) || {error, E} <- Started],
    TJoined = now_us(),
    wait_counts({visible, Tag}, Nodes, Groups, Deadline),
    #{groups => Groups, joined_s => (TJoined - T0) / 1.0e6, visible_s => (now_us() - T0) / 1.0e6}.

teardown(Tag, Nodes, Deadline) ->
    Hs = case get({holders, Tag}) of undefined -> []; L -> L end,
    [stop_holder_remote(H) || H <- Hs],
    erase({holders, Tag}),
    wait_counts({gone, Tag}, Nodes, 0, Deadline),
    #{stopped => length(Hs)}.

%%% ---------------------------------------------------------------- (c) sync of a fresh node

wait_gone(Node, Nodes, Deadline) ->
    wait_until({node_gone, Node},
               fun() -> lists:all(fun(N) -> not lists:member(Node, call(N, nodes_seen, [], Deadline)) end,
                                  Nodes) end,
               Deadline),
    #{gone => Node}.

%% Runs on the fresh node from its start, before any connection: polls the scope's table (its row
%% count is the number of groups) every millisecond until it holds Target groups, then confirms
%% with pg:which_groups/1 and waits to be asked for the times.
sync_watch(Target, Peers, ReadyFile, Started) ->
    register(pg_otp_sync_watch, self()),
    wait_scope(200),
    Before = #{nodes_at_start => length(nodes()), groups_at_start => group_count()},
    ok = file:write_file(ReadyFile ++ ".tmp", json(Before)),
    ok = file:rename(ReadyFile ++ ".tmp", ReadyFile),
    Deadline = deadline(900000),
    Res = sync_poll(Target, Peers, Deadline, #{polls => 0}),
    Confirmed = group_count_confirmed(),
    TConfirmed = os:system_time(microsecond),
    Result = maps:merge(Before, Res#{confirmed_groups => Confirmed, confirmed_us => TConfirmed,
                                     started_us => Started}),
    receive {get, From, Ref} -> From ! {Ref, Result} after left(Deadline) -> ok end.

wait_scope(0) -> ok;
wait_scope(N) ->
    case whereis(?SCOPE) of
        undefined -> timer:sleep(5), wait_scope(N - 1);
        _ -> ok
    end.

sync_poll(Target, Peers, Deadline, Acc0) ->
    Now = os:system_time(microsecond),
    Count = group_count(),
    Acc1 = Acc0#{polls => maps:get(polls, Acc0) + 1},
    Acc2 = case Count > 0 andalso not maps:is_key(first_group_us, Acc1) of
               true -> Acc1#{first_group_us => Now};
               false -> Acc1
           end,
    Acc3 = case length(nodes()) >= Peers andalso not maps:is_key(mesh_us, Acc2) of
               true -> Acc2#{mesh_us => Now};
               false -> Acc2
           end,
    if
        Count >= Target -> Acc3#{reached_us => Now, reached_groups => Count};
        true ->
            case left(Deadline) of
                0 -> Acc3#{timeout => true, reached_groups => Count};
                _ -> timer:sleep(1), sync_poll(Target, Peers, Deadline, Acc3)
            end
    end.

sync_connect(Node, Target, Nodes, Deadline) ->
    wait_counts(sync_groups_in_place, Nodes, Target, Deadline),
    false = lists:member(Node, nodes()),
    T0 = os:system_time(microsecond),
    true = net_kernel:connect_node(Node),
    TConnected = os:system_time(microsecond),
    Ref = make_ref(),
    {pg_otp_sync_watch, Node} ! {get, self(), Ref},
    R = receive {Ref, Res} -> Res after left(Deadline) -> throw({timeout, sync_watch}) end,
    case maps:is_key(timeout, R) of
        true -> throw({timeout, {sync, R}});
        false -> ok
    end,
    Rel = fun(K) -> case maps:find(K, R) of {ok, T} -> (T - T0) / 1.0e6; error -> null end end,
    #{groups => Target,
      sync_s => Rel(reached_us),
      confirmed_s => Rel(confirmed_us),
      connect_call_s => (TConnected - T0) / 1.0e6,
      first_group_s => Rel(first_group_us),
      full_mesh_s => Rel(mesh_us),
      watcher => R}.

%%% ---------------------------------------------------------------- statistics

median(Sorted) -> percentile(Sorted, 50).

%% Nearest-rank percentile of a sorted, non-empty list.
percentile(Sorted, P) ->
    N = length(Sorted),
    Rank = max(1, min(N, ceil(P * N / 100))),
    lists:nth(Rank, Sorted).

%%% ---------------------------------------------------------------- JSON (enough for our results)

json(M) when is_map(M) ->
    Items = [[json_key(K), $:, json(V)] || {K, V} <- lists:sort(maps:to_list(M))],
    [${, lists:join($,, Items), $}];
json(L) when is_list(L) ->
    case io_lib:printable_unicode_list(L) andalso L =/= [] of
        true -> json_string(unicode:characters_to_binary(L));
        false -> [$[, lists:join($,, [json(V) || V <- L]), $]]
    end;
json(true) -> <<"true">>;
json(false) -> <<"false">>;
json(null) -> <<"null">>;
json(undefined) -> <<"null">>;
json(A) when is_atom(A) -> json_string(atom_to_binary(A, utf8));
json(B) when is_binary(B) -> json_string(B);
json(I) when is_integer(I) -> integer_to_binary(I);
json(F) when is_float(F) -> float_to_binary(F, [short]);
json(T) -> json_string(iolist_to_binary(io_lib:format("~0p", [T]))).

json_key(K) when is_atom(K) -> json_string(atom_to_binary(K, utf8));
json_key(K) when is_binary(K) -> json_string(K);
json_key(K) -> json_string(iolist_to_binary(io_lib:format("~0p", [K]))).

json_string(B) ->
    [$", [json_char(C) || <<C/utf8>> <= B], $"].

json_char($") -> <<"\\\"">>;
json_char($\\) -> <<"\\\\">>;
json_char($\n) -> <<"\\n">>;
json_char(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
json_char(C) -> <<C/utf8>>.
