-- wrk script for bench/soak: a mix of reads and writes on k9-api serve, spread over a
-- few users, recording the id of every acknowledged report (201 from POST /reports).
--
--   wrk -s bench/soak.lua URL -- OUTDIR TOKEN [TOKEN...]
--
-- Each wrk thread writes OUTDIR/ids-<thread>.txt (one id a line, flushed at once) and
-- counts responses by status; done() merges the threads' counts and prints them as
--   SOAK status <code> <count>
--   SOAK errors connect=<n> read=<n> write=<n> timeout=<n>
--   SOAK latency_ms p50=<x> p99=<x> max=<x>
--   SOAK requests <n> seconds <s>

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_id", #threads)
end

function init(args)
    outdir = args[1]
    tokens = {}
    for i = 2, #args do tokens[#tokens + 1] = args[i] end
    statuses = {}
    recent = {}  -- {id, token} of reports this thread saw acknowledged, to read and change
    sent = 0
    ids = assert(io.open(outdir .. "/ids-" .. thread_id .. ".txt", "w"))
    math.randomseed(os.time() + thread_id * 7919)
end

local function headers(token)
    return {["Authorization"] = "Bearer " .. (token or tokens[math.random(#tokens)]),
            ["Content-Type"] = "application/json"}
end

-- A report this thread created, and its owner's token (another user's report is a 404).
local function recent_report()
    if #recent == 0 then return nil, nil end
    local r = recent[math.random(#recent)]
    return r[1], r[2]
end

-- The mix, in percent: 30 create a report, 5 change a report, 5 set a favorite,
-- 5 change the profile, 30 list reports, 10 read a report, 10 read the profile, 5 health.
function request()
    sent = sent + 1
    local r = math.random(100)
    local id, owner = recent_report()
    if r <= 30 then
        local body = string.format(
            '{"title":"soak %d-%d","author":"wrk","date":"2024-01-01","reference":{"thread":%d,"n":%d},"favorites":["p1"]}',
            thread_id, sent, thread_id, sent)
        return wrk.format("POST", "/reports", headers(), body)
    elseif r <= 35 and id then
        return wrk.format("PATCH", "/reports/" .. id, headers(owner), string.format('{"title":"changed %d"}', sent))
    elseif r <= 40 and id then
        return wrk.format("PUT", "/reports/" .. id .. "/favorites/p" .. (sent % 7), headers(owner),
            '{"favorite":true}')
    elseif r <= 45 then
        return wrk.format("PATCH", "/user/profile", headers(), string.format('{"name":"Soak %d"}', sent))
    elseif r <= 75 then
        return wrk.format("GET", "/reports?limit=20", headers())
    elseif r <= 85 and id then
        return wrk.format("GET", "/reports/" .. id, headers(owner))
    elseif r <= 95 then
        return wrk.format("GET", "/user/profile", headers())
    end
    return wrk.format("GET", "/health", headers())
end

function response(status, _, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 201 then
        -- The report's own "id" (keys are sorted, and "user_id" has no quote before "id").
        local id = body:match('"id":"([^"]+)"')
        if id then
            ids:write(id, "\n")
            ids:flush()
            -- Users are soak-user-0..N-1, in the order of the tokens.
            local user = tonumber(body:match('"user_id":"soak%-user%-(%d+)"'))
            if user then
                local entry = {id, tokens[user + 1]}
                if #recent < 200 then recent[#recent + 1] = entry else recent[math.random(200)] = entry end
            end
        end
    end
end

function done(summary, latency, _)
    local merged = {}
    for _, thread in ipairs(threads) do
        for code, n in pairs(thread:get("statuses")) do merged[code] = (merged[code] or 0) + n end
    end
    local codes = {}
    for code in pairs(merged) do codes[#codes + 1] = code end
    table.sort(codes)
    for _, code in ipairs(codes) do io.write(string.format("SOAK status %d %d\n", code, merged[code])) end
    local e = summary.errors
    io.write(string.format("SOAK errors connect=%d read=%d write=%d timeout=%d\n", e.connect, e.read, e.write,
        e.timeout))
    io.write(string.format("SOAK latency_ms p50=%.1f p99=%.1f max=%.1f\n", latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
    io.write(string.format("SOAK requests %d seconds %.1f\n", summary.requests, summary.duration / 1e6))
end
