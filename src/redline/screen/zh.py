"""Chinese names: legal-form suffixes, common business words read as English, the rest as pinyin.

A Chinese company name is a place, a brand (read as pinyin: 华为 -> huawei) and generic words
(科技 -> technology). Generic words are translated so that 中国电子科技集团 meets "China Electronics
Technology Group"; brands keep their pinyin, one token per run of characters.
"""

from __future__ import annotations

from pypinyin import lazy_pinyin

# Legal forms and organisational words, longest first (removed wherever they end a run).
LEGAL_SUFFIXES: tuple[str, ...] = (
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "集团股份有限公司",
    "控股有限公司",
    "有限公司",
    "集团公司",
    "总公司",
    "分公司",
    "子公司",
    "公司",
    "集团",
    "股份",
)

# Generic words of company names -> English tokens (normalized forms, as `normalize` produces them).
# Places keep their usual romanization as one token.
WORDS: dict[str, str] = {
    "中华人民共和国": "china",
    "中国": "china",
    "中华": "china",
    "中央": "central",
    "国家": "national",
    "国际": "international",
    "科技": "technology",
    "技术": "technology",
    "高科技": "high technology",
    "高新技术": "high technology",
    "电子": "electronic",
    "微电子": "microelectronic",
    "信息": "information",
    "通信": "communication",
    "通讯": "communication",
    "网络": "network",
    "航空": "aviation",
    "航天": "aerospace",
    "科工": "science industry",
    "工业": "industry",
    "产业": "industry",
    "实业": "industrial",
    "重工": "heavy industry",
    "控股": "holding",
    "投资": "investment",
    "研究所": "research institute",
    "研究院": "research institute",
    "研究": "research",
    "科学": "science",
    "发展": "development",
    "数字": "digital",
    "数据": "data",
    "智能": "intelligent",
    "系统": "system",
    "设备": "equipment",
    "机械": "machinery",
    "电气": "electric",
    "能源": "energy",
    "新能源": "new energy",
    "光电": "optoelectronic",
    "光学": "optical",
    "半导体": "semiconductor",
    "集成电路": "integrated circuit",
    "制造": "manufacturing",
    "存储": "memory",
    "存储器": "memory",
    "船舶": "shipbuilding",
    "造船": "shipbuilding",
    "海洋": "ocean",
    "海运": "shipping",
    "航运": "shipping",
    "物流": "logistic",
    "建设": "construction",
    "建筑": "construction",
    "工程": "engineering",
    "设计": "design",
    "咨询": "consulting",
    "飞机": "aircraft",
    "商用飞机": "commercial aircraft",
    "无人机": "uav",
    "移动": "mobile",
    "电信": "telecom",
    "联通": "unicom",
    "卫星": "satellite",
    "安全": "security",
    "网络安全": "cyberspace security",
    "软件": "software",
    "自动化": "automation",
    "导航": "navigation",
    "精密": "precision",
    "材料": "material",
    "化工": "chemical",
    "化学": "chemical",
    "核工业": "nuclear industry",
    "石油": "petroleum",
    "海洋石油": "offshore oil",
    "电力": "power",
    "太阳能": "solar",
    "光伏": "solar",
    "基因": "genomic",
    "贸易": "trading",
    "管理": "management",
    "资产": "asset",
    "服务": "service",
    "兵器": "ordnance",
    "北方": "north",
    "南方": "south",
    "第": "",
    "集团": "",
    "公司": "",
    "有限公司": "",
    "股份有限公司": "",
    "有限责任公司": "",
    "机器人": "robotic",
    "美国": "usa",
    "北美": "north america",
    "香港": "hong kong",
    "澳门": "macau",
    "北京": "beijing",
    "上海": "shanghai",
    "深圳": "shenzhen",
    "广州": "guangzhou",
    "杭州": "hangzhou",
    "成都": "chengdu",
    "西安": "xian",
    "武汉": "wuhan",
    "厦门": "xiamen",
    "天津": "tianjin",
    "南京": "nanjing",
    "重庆": "chongqing",
    "沈阳": "shenyang",
    "哈尔滨": "harbin",
    "长沙": "changsha",
    "无锡": "wuxi",
    "苏州": "suzhou",
    "青岛": "qingdao",
    "大连": "dalian",
    "合肥": "hefei",
    "保定": "baoding",
    "浙江": "zhejiang",
    "江西": "jiangxi",
    "江苏": "jiangsu",
    "广东": "guangdong",
    "贵州": "guizhou",
    "四川": "sichuan",
    "云南": "yunnan",
    "湖北": "hubei",
    "湖南": "hunan",
    "陕西": "shaanxi",
    "山东": "shandong",
    "河北": "hebei",
    "河南": "henan",
    "福建": "fujian",
    "安徽": "anhui",
    "辽宁": "liaoning",
    "吉林": "jilin",
    "黑龙江": "heilongjiang",
    "内蒙古": "inner mongolia",
    "长江": "yangtze",
}
_MAX_WORD = max(len(w) for w in WORDS)
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def numeral(text: str) -> int:
    """Value of a Chinese numeral such as 十四 (14), 五十九 (59), 三十二 (32), 一〇一 (101)."""
    total, digit = 0, None
    positional = not any(c in _UNITS for c in text)
    if positional:
        return int("".join(str(_DIGITS[c]) for c in text))
    for c in text:
        if c in _DIGITS:
            digit = _DIGITS[c]
        else:
            total += (digit if digit is not None else 1) * _UNITS[c]
            digit = None
    return total + (digit or 0)


# Traditional characters of company names -> simplified, so the word table reads both (華為技術 -> 华为技术).
_TRADITIONAL = str.maketrans(
    "術電網絡業團國際聯動設備機氣導體製儲運築計飛無衛軟貿資產務開發數據統訊廣東門龍華為創長鐵車鋼銀億鋰寧達標準處驗醫藥島灣經濟區縣廠礦環實義協會學圖號時視總營輸遠裝險證錄積雲從騰鴻軍彈艦將紅綠藍陽風鳳輛顯銳傳專權歐亞蘇滬粵贛遼陝晉魯瓊貴責與瑪測試儀擬線纜檢構極聖澤豐閃禮錢壽餘戰鬥嚴護頓質諾興爾邁揚漢樂碼頻鏈雙關陸書畫隊維鍵腦貨鄭蘭瀋邊層類離觀兩廈寶鑽塗鎮鄉莊齊廳庫燈點熱調節葉馬魚鳥麗傑夢宮歷聲響韓孫劉陳楊趙黃吳鄧許馮張",
    "术电网络业团国际联动设备机气导体制储运筑计飞无卫软贸资产务开发数据统讯广东门龙华为创长铁车钢银亿锂宁达标准处验医药岛湾经济区县厂矿环实义协会学图号时视总营输远装险证录积云从腾鸿军弹舰将红绿蓝阳风凤辆显锐传专权欧亚苏沪粤赣辽陕晋鲁琼贵责与玛测试仪拟线缆检构极圣泽丰闪礼钱寿余战斗严护顿质诺兴尔迈扬汉乐码频链双关陆书画队维键脑货郑兰沈边层类离观两厦宝钻涂镇乡庄齐厅库灯点热调节叶马鱼鸟丽杰梦宫历声响韩孙刘陈杨赵黄吴邓许冯张",
)


def simplify(run: str) -> str:
    """Traditional characters of common company-name words replaced by their simplified forms."""
    return run.translate(_TRADITIONAL)


def strip_suffixes(run: str) -> tuple[str, list[str]]:
    """Remove legal-form suffixes from the end of a run of Chinese characters (repeatedly)."""
    removed: list[str] = []
    changed = True
    while changed:
        changed = False
        for suffix in LEGAL_SUFFIXES:
            if run.endswith(suffix) and len(run) > len(suffix):
                run = run[: -len(suffix)]
                removed.append(suffix)
                changed = True
                break
    return run, removed


def read_run(run: str) -> tuple[list[str], list[str]]:
    """Tokens for a run of Chinese characters, and how each part was read.

    Longest-match over `WORDS`; characters between known words are read as pinyin and joined into
    one token per stretch (a brand name: 海康威视 -> haikangweishi).
    """
    tokens: list[str] = []
    notes: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            chars = "".join(pending)
            syllables = lazy_pinyin(chars)
            token = "".join(s for s in syllables if s.isascii() and s.isalnum()).lower()
            if token:
                tokens.append(token)
                notes.append(f"pinyin {chars}→{token}")
            pending.clear()

    i = 0
    while i < len(run):
        if run[i] in _DIGITS or run[i] in _UNITS:
            j = i
            while j < len(run) and (run[j] in _DIGITS or run[j] in _UNITS):
                j += 1
            if j - i > 1 or (i > 0 and run[i - 1] == "第"):
                flush()
                tokens.append(str(numeral(run[i:j])))
                notes.append(f"numeral {run[i:j]}→{tokens[-1]}")
                i = j
                continue
        for size in range(min(_MAX_WORD, len(run) - i), 0, -1):
            word = run[i : i + size]
            if word in WORDS:
                flush()
                tokens.extend(WORDS[word].split())
                notes.append(f"zh→en {word}→{WORDS[word]}" if WORDS[word] else f"legal form {word} removed")
                i += size
                break
        else:
            pending.append(run[i])
            i += 1
    flush()
    return tokens, notes
