"""Demo customers at scale (`crm demo --customers N`): realistic, valid and fast (1,000,000 in ≈1.5 minutes).

What is generated, per customer (spec §2.3):
- ~85% personal / ~15% corporate, ~80% stock (存量) / ~20% target (目标), spread over every outlet (bigger
  outlets get more: 营业部 > 城区 > 乡镇);
- Chinese names from weighted pools (≈400 surnames with real-life frequencies, 2,000 given names; corporate
  names region + brand + industry + 有限公司/股份有限公司), with the search keys of `crm.customers.search.keys`;
- a valid, unique 身份证 for ~90% of personal customers (birthday and gender follow from it), a valid, unique
  统一社会信用代码 for ~90% of corporate customers, a mobile number for ~95%;
- deposits with a long tail (lognormal, median ≈20,000 personal / ≈300,000 corporate, ~10% zero, a few in the
  millions), daily average near the balance, loans for ~25% of corporate and ~8% of personal customers,
  tier T1 from 50,000 (S-12, T-52), VIP for the top ~2%;
- a maintainer for ~70%: staff of the customer's outlet in a fitting post (corporate RM or the outlet head for
  corporate customers; RM/wealth manager for T1, lobby/counter staff for T0 personal customers);
- personal details (family, product needs, risk preference, work) and corporate details (industry, legal
  representative, eco-map module, registration date, revenue) for a share of customers;
- `last_contact_at` for ~60% (recent, with a long tail), with the contact itself in the activity table (by the
  maintainer; recent ones often with a next follow-up date, so the dashboard has reminders);
- family members for ~30% of personal customers (spouse, children with birthdays and school grades matching
  their age), with the 家庭资料 text written from them; products held that add up: the deposit products sum to
  the deposit balance, wealth/fund/policy products make up the AUM above it, the loan equals the loan balance,
  plus cards and e-banking.

Speed: rows are plain dicts inserted with a Core `insert(customer)` executemany, 20,000 per transaction; into an
empty table the secondary indexes are dropped first and rebuilt at the end. Pinyin is read once per phrase or
character and cached (see `_Pinyin`); the keys equal what `keys()` gives. Certificate numbers are unique by
construction (counters, no random retries).

Existing customers: `seed_customers` refuses, unless `append=True` (`crm demo --customers N --append`): then N
more are added and every certificate number already stored is skipped.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, bindparam, func, insert, select, text

from crm.customers.search import pinyin_keys
from crm.demo import DemoRefused
from crm.extensions import db
from crm.models import Activity, Branch, Customer, CustomerProduct, FamilyMember, Outlet, User
from crm.timeutil import utcnow

CHUNK = 20_000
TIER_LINE_CENTS = 50_000_00  # S-12: T1 from 50,000 (T-52: 49,999 → T0, 50,000 → T1)

# ---------------------------------------------------------------- pools

# Surnames with rough nationwide shares (%, 2020 census order); the rest of 百家姓 forms the long tail.
_HEAD_SURNAMES = (
    "王7.1 李7.0 张6.7 刘5.4 陈4.6 杨3.1 黄2.4 赵2.3 吴2.1 周2.0 徐1.6 孙1.5 马1.4 朱1.3 胡1.2 郭1.2 何1.1 "
    "林1.0 罗0.9 高0.9 郑0.8 梁0.8 谢0.7 宋0.6 唐0.6 许0.6 韩0.5 冯0.5 邓0.5 曹0.5 彭0.5 曾0.5 肖0.5 田0.4 "
    "董0.4 袁0.4 潘0.4 于0.4 蒋0.4 蔡0.4 余0.4 杜0.4 叶0.4 程0.4 苏0.3 魏0.3 吕0.3 丁0.3 任0.3 沈0.3 姚0.3 "
    "卢0.3 姜0.3 崔0.3 钟0.3 谭0.3 陆0.3 汪0.3 范0.3 金0.3 石0.25 廖0.25 贾0.25 夏0.25 韦0.2 付0.2 方0.2 "
    "白0.2 邹0.2 孟0.2 熊0.2 秦0.2 邱0.2 江0.2 尹0.2 薛0.2 闫0.2 段0.2 雷0.2 侯0.2 龙0.2 史0.2 陶0.15 "
    "黎0.15 贺0.15 顾0.15 毛0.15 郝0.15 龚0.15 邵0.15 万0.15 钱0.15 严0.15 覃0.1 武0.15 戴0.1 莫0.1 孔0.1 "
    "向0.1 汤0.1 常0.1 温0.1 康0.1 施0.1 文0.1 牛0.1 樊0.1 葛0.1 邢0.1 安0.1 齐0.1 易0.1 乔0.1 伍0.1 庞0.1"
)
_BAIJIAXING = (
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤"
    "花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄"
    "米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万"
    "支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松"
    "井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰"
    "从鄂索咸籍赖卓蔺屠蒙池乔阴胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍卻璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴"
    "瞿阎充慕连茹习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛"
    "阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公闫付"
)
_COMPOUND_SURNAMES = "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 夏侯 宇文 长孙 司徒 端木"
_MALE_CHARS = ("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林建国志文海峰东亮成新晨阳博豪轩航睿泽然"
               "天锋振兴家永庆德春晓松柏毅坤鸿彬雷斌武江山川伦庆祥福瑞恒卫红光荣兵涛立忠奇勋锐达宏康顺安")
_FEMALE_CHARS = ("芳娜敏静丽艳娟霞秀英玲燕萍红梅琳丹洁婷雪慧颖倩佳琪欣怡萱涵雨悦晶璐露蕾月莉兰凤翠桂莹薇菲妍"
                 "媛嘉瑶琴云爽晴蓉岚婉淑珍玉华美霞娇婕瑾璇思诗楠可馨宁茜岚茹惠")
# The most frequent single-character given names come first (张伟, 王芳 …).
_MALE_SINGLE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波宇浩凯健俊帅旭宁龙林斌亮成"
_FEMALE_SINGLE = "芳娜敏静丽艳娟霞燕萍红梅琳丹洁婷雪慧颖倩玲莉兰"
_FEMALE_DOUBLE_COMMON = "秀英 桂英 秀兰 玉兰 桂兰 秀珍 凤英 玉珍 玉梅 春梅 海燕 丽娟 晓燕 雪梅 欣怡 梓涵 诗涵 雨萱"
_MALE_DOUBLE_COMMON = "建华 建国 建军 志强 志明 海涛 俊杰 永强 国强 文杰 子豪 浩然 宇轩 子轩 博文 天宇 志刚 晓东"

_REGIONS = ("郑州 郑州市 洛阳 洛阳市 河南 河南省 中原 开封 新郑 巩义 荥阳 登封 偃师 孟津 伊川 嵩县 栾川 宜阳 新安 "
            "汝阳 洛宁 中牟 新密 金水 管城 二七 涧西 洛龙 郑东 高新").split()
_BRANDS = ("金鼎 宏达 华信 鑫源 瑞丰 恒泰 万通 中原 天成 博远 嘉禾 盛世 鸿运 永兴 新华 汇丰 安达 信诚 东方 泰和 "
           "润丰 佳和 德隆 昌盛 兴业 远航 星辰 凯旋 聚源 福瑞 祥云 宏图 锦程 鼎盛 华联 众诚 海川 龙腾 晨光 宇通 "
           "九州 恒通 天宇 中科 华美 正大 同心 卓越 明珠 富民 银河 绿源 长城 黄河 嵩山 龙门 牡丹 伏牛 洛神 商都 "
           "豫华 豫龙 豫丰 宏业 立信 创新 协和 科华 中兴 百川 鑫达 金辉 金诚 瑞祥 汇通 和顺 益民 广源 天利 新世纪 "
           "四季 阳光 春天 金穗 丰收 大地 森林 蓝天 银杏 清源 华源 康达 康泰 安康 康宁 建邦 正阳 朝阳 东升 宏基 "
           "鼎新 华夏 盛达 永信 瑞达 金桥 金利 联华 合众 方圆 四通 长江 万家 千禾 红旗 前进 建设 胜利 和平 光明").split()
# industry field value → words used in company names
_INDUSTRIES = {
    "批发和零售业": ("商贸", "贸易", "百货", "超市", "医药连锁", "汽车销售", "建材销售"),
    "制造业": ("机械", "电子", "纺织", "食品", "化工", "家具", "耐火材料", "电气", "机电设备", "塑料制品"),
    "建筑业": ("建筑工程", "建设工程", "装饰工程", "路桥工程", "钢结构"),
    "房地产业": ("置业", "房地产开发", "物业管理"),
    "交通运输、仓储和邮政业": ("物流", "运输", "仓储", "快递服务"),
    "住宿和餐饮业": ("餐饮管理", "酒店管理", "大酒店"),
    "信息传输、软件和信息技术服务业": ("科技", "信息技术", "软件", "网络科技", "数据服务"),
    "农、林、牧、渔业": ("农业开发", "种植专业", "养殖", "农牧", "林业"),
    "租赁和商务服务业": ("商务咨询", "企业管理", "广告", "人力资源", "会展服务"),
    "教育": ("教育咨询", "培训学校", "文化传播"),
    "卫生和社会工作": ("医院管理", "健康管理", "养老服务"),
    "电力、热力、燃气及水生产和供应业": ("热力", "燃气", "新能源", "供水"),
    "科学研究和技术服务业": ("检测技术", "环保科技", "生物科技", "工程设计"),
}
_INDUSTRY_WEIGHTS = (24, 20, 12, 5, 8, 6, 7, 5, 6, 2, 2, 1, 2)
_SUFFIXES = (("有限公司", 80), ("股份有限公司", 8), ("有限责任公司", 12))
_ECO = (("corporate", 55), ("institutional", 15), ("agri_realestate", 20), ("international", 10))
_RISK = (("conservative", 25), ("prudent", 35), ("balanced", 25), ("growth", 10), ("aggressive", 5))
_EMPLOYER_TYPES = (("government", 10), ("executive", 12), ("professional", 20), ("freelance", 15), ("other", 43))
_OCCUPATIONS = {
    "government": ("公务员", "事业单位职员", "教师", "医生", "警察"),
    "executive": ("总经理", "财务总监", "部门经理", "副总经理", "项目经理"),
    "professional": ("工程师", "会计师", "律师", "医生", "设计师", "教师", "护士"),
    "freelance": ("个体经营", "自由职业", "网店店主", "摄影师", "培训讲师"),
    "other": ("职员", "工人", "销售", "司机", "农民", "厨师", "技术员"),
}
_EMPLOYERS = ("郑州大学", "河南省人民医院", "郑州市第一人民医院", "洛阳市中心医院", "河南省教育厅", "郑州市金水区人民政府",
              "宇通客车股份有限公司", "中铁工程装备集团", "洛阳轴承集团", "郑州煤矿机械集团", "河南能源集团",
              "洛阳市第一高级中学", "郑州外国语学校", "国网河南省电力公司", "中国移动河南公司", "郑州地铁集团",
              "河南日报报业集团", "洛阳钼业", "中信重工", "郑州市公安局")
_PRODUCTS = ("定期存款", "大额存单", "理财产品", "基金定投", "养老保险", "重疾险", "教育金", "个人住房贷款", "消费贷款",
             "信用卡分期", "贵金属", "外汇", "国债", "养老金账户")
_PREFERENCES = ("喜欢打太极", "爱好书法", "喜欢钓鱼", "喜欢旅游", "关注孩子教育", "喜欢摄影", "爱喝茶", "喜欢广场舞",
                "喜欢运动健身", "关注健康养生", "喜欢收藏", "周末常带孩子郊游")
_CORP_TARGETS = ("开立基本结算账户", "代发工资", "办理流动资金贷款", "上线现金管理", "开通企业网银", "办理银行承兑汇票",
                 "发放固定资产贷款", "开展国际结算", "签约收单业务", "办理保函")
_STOCK_TARGETS = ("年末日均存款提升20%", "新增代发工资", "提升理财持有", "配置保险产品", "办理信用卡", "签约手机银行",
                  "季度走访一次", "每月电话维护")
_PHONE_PREFIXES = ("130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 175 176 177 "
                   "178 180 181 182 183 184 185 186 187 188 189 191 198 199 135 136 137 138 139 150 151 158 159 "
                   "186 187 188 189").split()

# Products held (spec §2.3): (category, name, term in days or 0)
_TIME_DEPOSITS = (("三个月整存整取", 91), ("六个月整存整取", 182), ("一年期整存整取", 365), ("两年期整存整取", 730),
                  ("三年期整存整取", 1095), ("五年期整存整取", 1826), ("大额存单（三年期）", 1095))
_WEALTH = (("稳健理财90天", 90), ("稳健理财180天", 180), ("季季享理财", 91), ("睿享一年期理财", 365),
           ("天天利现金管理", 0))
_FUNDS = ("沪深300指数基金", "稳健债券基金", "货币市场基金", "平衡混合型基金", "基金定投（月投1000元）")
_POLICIES = ("子女教育金保险", "养老年金保险", "重大疾病保险", "终身寿险", "两全保险")
_CARDS = ("借记卡", "借记卡", "信用卡", "社保卡", "借记卡")
_PERSONAL_LOANS = ("个人住房贷款", "个人消费贷款", "个人经营贷款")
_CORP_LOANS = ("流动资金贷款", "银行承兑汇票", "固定资产贷款")
# Contacts (activity) written at `last_contact_at`, by the maintainer
_CONTACTS = (("call", "电话回访，客户近期无资金需求，约定下月再联系"), ("call", "电话告知定期存款即将到期，客户考虑续存"),
             ("visit", "上门走访，了解家庭资产配置情况，推荐稳健理财"), ("meeting", "客户到网点办理业务，顺便介绍手机银行"),
             ("message", "微信发送节日问候及理财产品信息"), ("visit", "走访企业，了解经营和结算需求"),
             ("call", "电话邀约参加本周六理财沙龙"), ("meeting", "面谈子女教育金规划，客户有意向"))
_STAGES = (None, None, "identify", "arouse", "present", "objection", "close")
_SCHOOL_BY_AGE = {3: "k1", 4: "k2", 5: "k3", 6: "p1", 7: "p2", 8: "p3", 9: "p4", 10: "p5", 11: "p6", 12: "m1",
                  13: "m2", 14: "m3", 15: "h1", 16: "h2", 17: "h3"}
_SCHOOLS = ("实验小学", "外国语小学", "第一幼儿园", "金水区实验幼儿园", "第八中学", "外国语中学", "第一高级中学",
            "育才小学", "春蕾幼儿园", "第二中学")

# 身份证 birthplace codes (all in the national division table): local codes first, by 分行 code prefix.
_AREAS_BY_BRANCH = {
    "4101": ("410102", "410103", "410104", "410105", "410108", "410122", "410181", "410182", "410183", "410184",
             "410185"),
    "4103": ("410302", "410303", "410304", "410305", "410311", "410381", "410322", "410323", "410324", "410325",
             "410326", "410327", "410328", "410329"),
}
_OTHER_AREAS = ("410202", "410204", "410702", "410802", "411102", "411302", "411402", "411502", "411602", "411702",
                "110105", "310115", "440305", "320106", "330106", "510107", "420106", "370102", "130102", "610113",
                "340104", "430103", "350203", "500103")
_ALL_AREAS = tuple(dict.fromkeys(code for codes in _AREAS_BY_BRANCH.values() for code in codes)) + _OTHER_AREAS
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_MULTIPLIER = 37_019_281  # coprime with 10**8: k → k·M mod 10**8 is a bijection, so org codes never repeat
_BIRTH_EPOCH = date(1930, 1, 1)

# Who maintains whom: staff of the customer's outlet in one of these posts
_MAINTAINER_POSTS = {
    "corp_big": ("outlet_head", "corporate_rm"),  # large corporate customers: the head or a corporate RM
    "corp": ("corporate_rm",),
    "T1": ("personal_rm", "wealth_manager"),
    "T0": ("lobby_manager", "low_counter_teller", "high_counter_teller", "back_office", "clerk", "agent"),
}
_OUTLET_WEIGHT = {"sub_branch_business_dept": 3.0, "urban": 2.0, "township": 1.0}


def tier_for(balance_cents: int) -> str:
    """The default tier of a deposit balance (in cents): T1 from 50,000.00, else T0."""
    return "T1" if balance_cents >= TIER_LINE_CENTS else "T0"


def id_check_char(body17: str) -> str:
    """GB 11643 MOD 11-2 check character of the first 17 digits (as `stdnum.cn.ric.calc_check_digit`)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character (as `stdnum.cn.uscc.calc_check_digit`)."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _org_check_char(body8: str) -> str:
    check = 11 - sum(int(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True)) % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


# ---------------------------------------------------------------- pinyin, fast and exact

class _Pinyin:
    """`crm.customers.search.pinyin_keys` for many names, fast and with the same result.

    pypinyin cuts a name into dictionary phrases and single characters (forward maximum matching, pure Python
    and cheap), then reads each piece on its own (李长江 → 李 + 长江 → li + changjiang); the slow part is the
    reading. Here the cut is the same, and each piece is read once by `pinyin_keys` and cached.
    """

    def __init__(self) -> None:
        try:
            from pypinyin.seg.mmseg import seg

            self.cut: Callable[[str], Iterable[str]] | None = seg.cut
        except ImportError:  # another pypinyin: read whole names (slower, same result)
            self.cut = None
        self.pieces: dict[str, tuple[str, str]] = {}

    def __call__(self, name: str) -> tuple[str, str]:
        if self.cut is None:
            return pinyin_keys(name)
        pieces = self.pieces
        full, initials = [], []
        for piece in self.cut(name):
            keys = pieces.get(piece)
            if keys is None:
                keys = pieces[piece] = pinyin_keys(piece)
            full.append(keys[0])
            initials.append(keys[1])
        return "".join(full)[:200], "".join(initials)[:100]


# ---------------------------------------------------------------- the generator

class _Generator:
    def __init__(self, rng: random.Random, outlets: list[tuple[int, str, str]], staff: dict[tuple[int, str], list[int]],
                 existing_certs: set[str], start: int) -> None:
        self.rng = rng
        self.py = _Pinyin()
        self.existing = existing_certs
        self.now = utcnow().replace(microsecond=0)
        self.today = self.now.date()
        self.today_ord = self.today.toordinal()
        self.epoch_ord = _BIRTH_EPOCH.toordinal()

        # Outlets: bigger ones get more customers.
        weights = [_OUTLET_WEIGHT.get(kind, 1.5) * rng.uniform(0.6, 1.4) for _, kind, _ in outlets]
        self.outlet_ids = [o[0] for o in outlets]
        self.outlet_cum = list(_cumulative(weights))
        self.outlet_areas = {o[0]: self._area_choices(o[2]) for o in outlets}
        self.staff = staff
        # Derived columns of newer schemas, filled when the table has them.
        self.birth_md = "birth_md" in Customer.__table__.c

        self._build_name_pools()
        # Adult customers, most of them 30 to 55.
        self.ages = [18 + int(rng.betavariate(2.2, 3.4) * 70) for _ in range(4096)]
        self.birth_digits: dict[int, tuple[str, int]] = {}
        # 身份证: a counter per (birthplace, birth date, gender) cell gives the next free sequence number.
        self.area_index = {code: i for i, code in enumerate(_ALL_AREAS)}
        self.n_days = self.today_ord - self.epoch_ord + 1
        self.id_counters = array("H", bytes(2 * len(_ALL_AREAS) * self.n_days * 2))
        self.area_sums = [sum(int(c) * w for c, w in zip(code, _ID_WEIGHTS[:6], strict=True)) for code in _ALL_AREAS]
        self.org_k = start  # USCC: organisation codes from a counter, scrambled bijectively
        self.next_id = 1  # set by seed_customers: customers get explicit ids, so their family rows can refer to them
        self.family: list[dict[str, Any]] = []
        self.products: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []

    # -- pools

    def _build_name_pools(self) -> None:
        rng = self.rng
        head = [(item[0], float(item[1:])) for item in _HEAD_SURNAMES.split()]
        names = {s for s, _ in head}
        tail = [c for c in dict.fromkeys(_BAIJIAXING) if c not in names]
        surnames = head + [(c, 0.08 / (1 + i / 40)) for i, c in enumerate(tail)]
        surnames += [(s, 0.01) for s in _COMPOUND_SURNAMES.split()]
        self.surnames = [s for s, _ in surnames]
        self.surname_cum = list(_cumulative(w for _, w in surnames))
        self.given: dict[str, list[str]] = {}
        self.given_cum: dict[str, list[float]] = {}
        for gender, single, double, chars in (("男", _MALE_SINGLE, _MALE_DOUBLE_COMMON, _MALE_CHARS),
                                               ("女", _FEMALE_SINGLE, _FEMALE_DOUBLE_COMMON, _FEMALE_CHARS)):
            pool = list(dict.fromkeys(list(single) + double.split()))
            seen = set(pool)
            while len(pool) < 1000:
                name = rng.choice(chars) + rng.choice(chars)
                if name[0] != name[1] or rng.random() < 0.1:  # a few doubled names (婷婷, 明明)
                    if name not in seen:
                        seen.add(name)
                        pool.append(name)
            self.given[gender] = pool
            # Zipf-like: the common names are common, the rest still appear.
            self.given_cum[gender] = list(_cumulative(1 / (i + 8) ** 0.8 for i in range(len(pool))))
        industries = list(_INDUSTRIES)
        self.industries = industries
        self.industry_cum = list(_cumulative(_INDUSTRY_WEIGHTS))
        self.suffixes = [s for s, _ in _SUFFIXES]
        self.suffix_cum = list(_cumulative(w for _, w in _SUFFIXES))
        self.product_pool = ["、".join(rng.sample(_PRODUCTS, rng.choice((1, 1, 2, 2, 3)))) for _ in range(300)]

    def _area_choices(self, branch_code: str) -> tuple[str, ...]:
        local = _AREAS_BY_BRANCH.get(branch_code[:4])
        return local if local else _ALL_AREAS

    # -- numbers

    def id_card(self, outlet_id: int, gender: str, birth_ord: int) -> str | None:
        """A new 身份证 number: birthplace mostly local, sequence from the cell's counter (odd for men)."""
        rng = self.rng
        areas = self.outlet_areas[outlet_id] if rng.random() < 0.85 else _ALL_AREAS
        code = areas[int(rng.random() * len(areas))]
        day = birth_ord - self.epoch_ord
        male = gender == "男"
        digits = self.birth_digits.get(birth_ord)
        if digits is None:
            birth = date.fromordinal(birth_ord).strftime("%Y%m%d")
            digits = self.birth_digits[birth_ord] = (
                birth, sum(int(c) * w for c, w in zip(birth, _ID_WEIGHTS[6:14], strict=True)))
        birth, date_sum = digits
        for attempt in range(len(_ALL_AREAS)):  # a full cell moves on to the next birthplace (never in practice)
            a = self.area_index[code]
            cell = (a * self.n_days + day) * 2 + male
            counters = self.id_counters
            while counters[cell] < 500:
                half = counters[cell]
                counters[cell] = half + 1
                seq = half * 2 + 1 if male else half * 2 + 2  # 000 is never issued
                if seq > 999:
                    break
                s = f"{seq:03d}"
                total = self.area_sums[a] + date_sum + int(s[0]) * 8 + int(s[1]) * 4 + int(s[2]) * 2
                number = f"{code}{birth}{s}{_ID_CHECK[total % 11]}"
                if number not in self.existing:
                    return number
            code = _ALL_AREAS[(a + 1 + attempt) % len(_ALL_AREAS)]
        return None

    def uscc(self, outlet_id: int) -> str:
        while True:
            body = f"{(self.org_k * _ORG_MULTIPLIER + 13_579_246) % 100_000_000:08d}"
            self.org_k += 1
            areas = self.outlet_areas[outlet_id]
            partial = "91" + areas[int(self.rng.random() * len(areas))] + body + _org_check_char(body)
            code = partial + uscc_check_char(partial)
            if code not in self.existing:
                return code

    # -- family members and products (spec §2.3)

    def _family(self, customer_id: int, surname: str, gender: str, age: int, birth_ord: int) -> str:
        """Family members of one personal customer; returns the 家庭资料 summary that matches them."""
        rng = self.rng
        rand = rng.random
        today_ord = self.today_ord
        own_birth = birth_ord or today_ord - age * 365
        parts = []
        married = age >= 24 and rand() < 0.8
        if married:
            spouse_gender = "女" if gender == "男" else "男"
            pool = self.given[spouse_gender]
            self.family.append(self._member(customer_id, "spouse", self.surnames[int(rand() * 60)] +
                                            pool[int(rand() * len(pool))], spouse_gender,
                                            own_birth + int(rng.gauss(0, 900)), None))
            parts.append("已婚")
        else:
            parts.append("未婚" if age < 35 else "离异")
        kids = []
        if married and 24 <= age <= 62:
            for _ in range((0, 1, 1, 1, 2, 2)[int(rand() * 6)]):
                born = own_birth + int((24 + rand() * 14) * 365.25)
                if born < today_ord - 30:
                    kids.append(born)
        for born in sorted(kids):
            kid_gender = "男" if rand() < 0.52 else "女"
            pool = self.given[kid_gender]
            kid_surname = surname if gender == "男" or rand() < 0.3 else self.surnames[int(rand() * 60)]
            kid_age = (today_ord - born) // 365
            self.family.append(self._member(customer_id, "child", kid_surname + pool[int(rand() * len(pool))],
                                            kid_gender, born, _SCHOOL_BY_AGE.get(kid_age, "u" if kid_age >= 18 else
                                                                                 "none")))
            parts.append(f"{'儿子' if kid_gender == '男' else '女儿'}{kid_age}岁")
        if age < 45 and rand() < 0.3:
            parts.append("父母退休在家")
        return "，".join(parts[:1]) + ("，" + "、".join(parts[1:]) if parts[1:] else "")

    def _member(self, customer_id: int, relation: str, name: str, gender: str, born: int,
                grade: str | None) -> dict[str, Any]:
        rand = self.rng.random
        school = None
        if grade and grade not in ("none", "u") and rand() < 0.6:
            school = _SCHOOLS[int(rand() * len(_SCHOOLS))]
        adult = relation != "child" or grade == "u"
        return {"customer_id": customer_id, "relation": relation, "name": name, "gender": gender,
                "birthday": date.fromordinal(min(born, self.today_ord)), "school_grade": grade, "school": school,
                "occupation": self.rng.choice(_OCCUPATIONS[_pick(_EMPLOYER_TYPES, rand())]) if adult and rand() < 0.6
                else None,
                "phone": f"{_PHONE_PREFIXES[int(rand() * len(_PHONE_PREFIXES))]}{int(rand() * 100_000_000):08d}"
                if adult and rand() < 0.5 else None,
                "risk_preference": _pick(_RISK, rand()) if adult and rand() < 0.3 else None,
                "preferences": _PREFERENCES[int(rand() * len(_PREFERENCES))] if rand() < 0.2 else None,
                "created_at": self.now, "version": 1}

    def _products(self, row: dict[str, Any], personal: bool, target: bool) -> None:
        """The products behind the customer's balances: deposits that add up to the deposit balance, AUM above it
        in wealth/funds/policies, the loan, cards and e-banking. Targets hold little or nothing yet."""
        rng = self.rng
        rand = rng.random
        today_ord = self.today_ord
        cid = row["id"]
        add = self.products.append
        balance = int(row["deposit_balance"] * 100)

        def product(category: str, name: str, cents: int | None = None, opened: int | None = None,
                    term: int = 0) -> None:
            opened = opened or today_ord - int(rand() * 2000) - 1
            add({"customer_id": cid, "category": category, "name": name,
                 "account_no": f"6228{int(rand() * 10**15):015d}" if category in ("deposit_current", "card") else None,
                 "amount": Decimal(cents).scaleb(-2) if cents is not None else None,
                 "opened_on": date.fromordinal(opened),
                 "matures_on": date.fromordinal(opened + term) if term else None, "notes": None,
                 "created_at": self.now, "version": 1})

        if balance:
            time_part = 0
            if rand() < (0.45 if personal else 0.25):
                name, term = _TIME_DEPOSITS[int(rand() * len(_TIME_DEPOSITS))]
                time_part = int(balance * (0.4 + rand() * 0.5))
                # opened so that the maturity falls from a month ago to a term ahead: some mature this month
                matures = today_ord - 30 + int(rand() * (term + 30))  # some matured lately, some due this month
                product("deposit_time", name if personal else "单位定期存款", time_part, matures - term, term)
            product("deposit_current", "活期储蓄" if personal else "单位活期存款（基本户）", balance - time_part)
        if personal:
            aum = row.get("aum")
            extra = int(aum * 100) - balance if aum is not None else 0
            if extra > 0:
                wealth = int(extra * (0.3 + rand() * 0.5))
                name, term = _WEALTH[int(rand() * len(_WEALTH))]
                product("wealth", name, wealth, today_ord - int(rand() * max(term, 30)), term)
                rest = extra - wealth
                if rand() < 0.5:
                    product("fund", _FUNDS[int(rand() * len(_FUNDS))], rest)
                else:
                    product("insurance", _POLICIES[int(rand() * len(_POLICIES))], rest)
            if rand() < (0.6 if not target else 0.2):
                product("card", _CARDS[int(rand() * len(_CARDS))])
            if rand() < (0.35 if not target else 0.1):
                product("ebanking", "手机银行")
            if row["has_loan"]:
                product("loan", _PERSONAL_LOANS[int(rand() * len(_PERSONAL_LOANS))], int(row["loan_balance"] * 100))
        else:
            if row["ebanking"]:
                product("ebanking", "企业网银")
            if row["has_loan"]:
                product("loan", _CORP_LOANS[int(rand() * len(_CORP_LOANS))], int(row["loan_balance"] * 100))

    # -- rows

    def rows(self, count: int) -> list[dict[str, Any]]:
        rng = self.rng
        rand = rng.random
        gauss = rng.gauss
        exp = math.exp
        dec = Decimal
        now = self.now
        today_ord = self.today_ord
        py = self.py
        ages = self.ages
        choose = rng.choices
        outlets = choose(self.outlet_ids, cum_weights=self.outlet_cum, k=count)
        surnames = choose(self.surnames, cum_weights=self.surname_cum, k=count)
        males = choose(self.given["男"], cum_weights=self.given_cum["男"], k=count)
        females = choose(self.given["女"], cum_weights=self.given_cum["女"], k=count)
        phones = choose(_PHONE_PREFIXES, k=count)
        staff = self.staff
        birth_md = self.birth_md
        out = []
        append = out.append
        self.family, self.products, self.activities = [], [], []
        for i in range(count):
            outlet_id = outlets[i]
            customer_id = self.next_id
            self.next_id += 1
            personal = rand() < 0.85
            target = rand() < 0.20
            # deposits: lognormal, in cents
            if rand() < (0.30 if target else 0.045):
                cents = 0
            elif personal:
                cents = int(exp(gauss(9.9 if not target else 9.0, 1.6)) * 100)
            else:
                cents = int(exp(gauss(12.6 if not target else 11.5, 1.7)) * 100)
            if cents > 300_000_000_00:  # the very largest accounts, without a pile-up at a cap
                cents = int(100_000_000_00 * (1 + rand() * 2))
            if cents and rand() < 0.03:  # round amounts (10,000.00; 50,000.00 …), as people keep them
                cents = round(cents, -5) or 100_000
            tier = "T1" if cents >= TIER_LINE_CENTS else "T0"
            avg = int(cents * (0.75 + rand() * 0.4)) if cents else 0
            balance = dec(cents).scaleb(-2)
            created = now - timedelta(days=int(rand() * (400 if target else 3000)), seconds=int(rand() * 86400))
            contact = None
            if rand() < (0.40 if target else 0.65):
                days = rng.expovariate(1 / 40)
                contact = now - timedelta(days=min(days, 1500), seconds=int(rand() * 36000))
                if contact < created:
                    contact = created + timedelta(hours=2)
            phone = f"{phones[i]}{int(rand() * 100_000_000):08d}" if rand() < 0.95 else None
            row = {
                "id": customer_id,
                "outlet_id": outlet_id, "status": "target" if target else "stock", "phone": phone,
                "phone_rev": phone[::-1] if phone else None, "tier": tier, "deposit_balance": balance,
                "deposit_daily_avg": dec(avg).scaleb(-2), "last_contact_at": contact,
                "created_at": created, "updated_at": contact if contact and contact > created else created,
                "version": 1, "created_by_id": None, "notes": None,
            }
            if personal:
                gender = "男" if rand() < 0.5 else "女"
                surname = surnames[i]
                given = males[i] if gender == "男" else females[i]
                name = surname + given
                gp, gi = py(name)
                age = ages[int(rand() * 4096)]
                birth_ord = today_ord - age * 365 - int(rand() * 365)
                cert = self.id_card(outlet_id, gender, birth_ord) if rand() < 0.90 else None
                if cert is None and rand() < 0.5:
                    birth_ord = 0  # no certificate on file and no birthday known
                retired = age >= (60 if gender == "男" else 55) and rand() < 0.9
                has_loan = rand() < 0.08
                details = rand()
                if details < 0.45:
                    etype = _pick(_EMPLOYER_TYPES, rand())
                    occupation = "退休" if retired else rng.choice(_OCCUPATIONS[etype])
                    employer = None if retired or rand() < 0.5 else rng.choice(_EMPLOYERS)
                else:
                    etype = occupation = employer = None
                row.update({
                    "kind": "personal", "name": name, "cert_no": cert, "cert_rev": cert[::-1] if cert else None,
                    "name_pinyin": gp[:200], "name_initials": gi[:100],
                    "vip": cents >= 450_000_00,
                    "has_loan": has_loan,
                    "loan_balance": dec(int(exp(gauss(12.3, 0.9)) * 100)).scaleb(-2) if has_loan else dec(0),
                    "aum": dec(cents + int(cents * rand() * 1.5)).scaleb(-2) if cents and rand() < 0.5 else None,
                    "birthday": date.fromordinal(birth_ord) if birth_ord else None, "gender": gender,
                    "employer": employer, "employer_type": etype, "occupation": occupation, "retired": retired,
                    "risk_preference": _pick(_RISK, rand()) if rand() < 0.45 else None,
                    "family_risk_preference": _pick(_RISK, rand()) if rand() < 0.25 else None,
                    "product_needs": rng.choice(self.product_pool) if rand() < 0.35 else None,
                    "family_info": self._family(customer_id, surname, gender, age, birth_ord) if rand() < 0.30
                    else None,
                    "preferences": rng.choice(_PREFERENCES) if rand() < 0.15 else None,
                    "maintenance_target": rng.choice(_STOCK_TARGETS) if not target and rand() < 0.2 else None,
                    "legal_rep": None, "registered_on": None, "industry": None, "annual_revenue": None,
                    "eco_module": None, "basic_account": False, "ebanking": False, "near_term_target": None,
                })
                group = tier
            else:
                ind = self.industries[_bisect(self.industry_cum, rand() * self.industry_cum[-1])]
                parts = (rng.choice(_REGIONS), rng.choice(_BRANDS), rng.choice(_INDUSTRIES[ind]),
                         self.suffixes[_bisect(self.suffix_cum, rand() * self.suffix_cum[-1])])
                name = "".join(parts)
                gp, gi = py(name)
                cert = self.uscc(outlet_id) if rand() < 0.90 else None
                has_loan = rand() < 0.25
                revenue = int(exp(gauss(16.0, 1.5)) * 100)
                rep_gender = "男" if rand() < 0.75 else "女"
                rep = surnames[i] + (males[i] if rep_gender == "男" else females[i])
                row.update({
                    "kind": "corporate", "name": name, "cert_no": cert, "cert_rev": cert[::-1] if cert else None,
                    "name_pinyin": gp, "name_initials": gi,
                    "vip": cents >= 10_000_000_00,
                    "has_loan": has_loan,
                    "loan_balance": dec(int(exp(gauss(15.0, 1.3)) * 100)).scaleb(-2) if has_loan else dec(0),
                    "aum": None, "birthday": None, "gender": None, "employer": None, "employer_type": None,
                    "occupation": None, "retired": False, "risk_preference": None, "family_risk_preference": None,
                    "product_needs": None, "family_info": None, "preferences": None,
                    "maintenance_target": rng.choice(_STOCK_TARGETS) if not target and rand() < 0.2 else None,
                    "legal_rep": rep,
                    "registered_on": date.fromordinal(today_ord - 200 - int(rand() * 30 * 365)),
                    "industry": ind, "annual_revenue": dec(revenue).scaleb(-2) if rand() < 0.7 else None,
                    "eco_module": _pick(_ECO, rand()),
                    "basic_account": not target and rand() < 0.55, "ebanking": rand() < (0.2 if target else 0.7),
                    "near_term_target": rng.choice(_CORP_TARGETS) if target and rand() < 0.6 else None,
                })
                group = "corp_big" if cents >= 5_000_000_00 else "corp"
            maintainer = None
            if rand() < 0.70:
                people = staff.get((outlet_id, group))
                if people:
                    maintainer = people[int(rand() * len(people))]
            row["maintainer_id"] = maintainer
            self._products(row, personal, target)
            if contact is not None and maintainer is not None:
                kind, summary = _CONTACTS[int(rand() * len(_CONTACTS))]
                recent = (now - contact).days <= 30
                self.activities.append({
                    "customer_id": customer_id, "user_id": maintainer, "kind": kind, "summary": summary,
                    "stage": _STAGES[int(rand() * len(_STAGES))], "occurred_at": contact, "created_at": contact,
                    "next_follow_up": date.fromordinal(today_ord + int(rand() * 21) - 5) if recent and rand() < 0.3
                    else None, "follow_up_done": False})
            if birth_md:
                bd = row["birthday"]
                row["birth_md"] = bd.month * 100 + bd.day if bd else None
            append(row)
        return out


def _cumulative(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _bisect(cum: list[float], x: float) -> int:
    from bisect import bisect_right

    return min(bisect_right(cum, x), len(cum) - 1)


def _pick(choices: tuple[tuple[str, int], ...], u: float) -> str:
    total = sum(w for _, w in choices)
    x = u * total
    for value, w in choices:
        x -= w
        if x < 0:
            return value
    return choices[-1][0]


# ---------------------------------------------------------------- entry point

DEMO_SERVE_CUSTOMERS = 3_000  # `crm serve --demo`: enough to search, page, claim and print a ledger


def ensure_demo_customers(n: int, seed: int, echo: Callable[[str], None] = print) -> bool:
    """Seed `n` customers into a demo database that has none yet; False (nothing done) when customers exist."""
    if db.session.execute(select(Customer.id).limit(1)).first() is not None:
        return False
    seed_customers(n, seed, echo)
    return True


def seed_customers(n: int, seed: int, echo: Callable[[str], None] = print, *, append: bool = False) -> int:
    """Insert `n` demo customers over all existing outlets; returns how many were inserted.

    Refuses (DemoRefused) when customers already exist, unless `append`: then `n` more are added, and their
    certificate numbers skip every number already in the database.
    """
    if n <= 0:
        return 0
    existing = db.session.execute(select(func.count()).select_from(Customer)).scalar_one()
    if existing and not append:
        raise DemoRefused(f"数据库中已有 {existing:,} 个客户，未生成演示客户（如需追加，请加 --append）。")
    outlets = [tuple(r) for r in db.session.execute(
        select(Outlet.id, Outlet.outlet_type, Branch.code).join(Branch, Branch.id == Outlet.root_branch_id)
        .where(Outlet.active).order_by(Outlet.id))]
    if not outlets:
        raise DemoRefused("没有网点，无法生成演示客户（请先运行 crm demo 生成机构和员工）。")
    # (outlet, group) → staff who maintain such customers; a group nobody at the outlet holds falls back to
    # all the outlet's customer-facing staff.
    by_post: dict[tuple[int, str], list[int]] = {}
    for user_id, outlet_id, post in db.session.execute(
            select(User.id, User.outlet_id, User.post).where(User.active, User.outlet_id.is_not(None))
            .order_by(User.id)):
        by_post.setdefault((outlet_id, post), []).append(user_id)
    facing = sorted({p for posts in _MAINTAINER_POSTS.values() for p in posts})
    staff: dict[tuple[int, str], list[int]] = {}
    for outlet_id, *_rest in outlets:
        anyone = [u for p in facing for u in by_post.get((outlet_id, p), [])]
        for group, posts in _MAINTAINER_POSTS.items():
            people = [u for p in posts for u in by_post.get((outlet_id, p), [])]
            staff[(outlet_id, group)] = people or anyone
    certs: set[str] = set()
    if existing:
        certs = set(db.session.execute(select(Customer.cert_no).where(Customer.cert_no.is_not(None))).scalars())
    db.session.commit()

    rng = random.Random(f"{seed}:{existing}")  # nosec B311  # reproducible demo data, not a secret
    gen = _Generator(rng, outlets, staff, certs, start=existing)
    gen.next_id = (db.session.execute(select(func.max(Customer.id))).scalar() or 0) + 1
    db.session.commit()
    done = 0
    with db.engine.connect() as conn:
        write = _writer(conn)
        write_family = _writer(conn, FamilyMember.__table__)
        write_products = _writer(conn, CustomerProduct.__table__)
        write_activities = _writer(conn, Activity.__table__)
        restore = _fast_writes(conn)
        # Into an empty table, building the secondary indexes once at the end is much faster than keeping ten
        # of them up to date row by row. They are rebuilt from their own stored definitions, whatever happens.
        indexes = [] if existing else _drop_indexes(conn)
        try:
            while done < n:
                size = min(CHUNK, n - done)
                rows = gen.rows(size)
                with conn.begin():
                    write(rows)
                    for rows_, write_ in ((gen.family, write_family), (gen.products, write_products),
                                          (gen.activities, write_activities)):
                        if rows_:
                            write_(rows_)
                done += size
                if done % 200_000 == 0 or done == n:
                    echo(f"  已写入 {done:,} / {n:,} 个客户")
        finally:
            if indexes:
                echo(f"  正在建立 {len(indexes)} 个索引…")
            _create_indexes(conn, indexes)
            restore()
        if conn.dialect.name == "postgresql":  # ids were given explicitly: move the sequence past them
            with conn.begin():
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('customer', 'id'), "
                                     "(SELECT max(id) FROM customer))")
    return done


def _drop_indexes(conn: Any) -> list[str]:
    """Drop the customer table's secondary indexes (not the primary key or unique constraints); return the SQL
    that recreates them, exactly as the database had them."""
    if conn.dialect.name == "sqlite":
        query = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customer' "
                 "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'")
    elif conn.dialect.name == "postgresql":
        query = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                 "AND tablename = 'customer' AND indexdef NOT LIKE 'CREATE UNIQUE%' AND indexname NOT IN "
                 "(SELECT conname FROM pg_constraint WHERE conrelid = 'customer'::regclass)")
    else:
        return []
    with conn.begin():
        found = conn.execute(text(query)).all()
        for name, _sql in found:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _name, sql in found]


def _create_indexes(conn: Any, statements: list[str]) -> None:
    if conn.in_transaction():
        conn.rollback()
    with conn.begin():
        for sql in statements:
            conn.exec_driver_sql(sql)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE customer")  # as autovacuum soon would: plans for the new size


def _writer(conn: Any, table: Any = None) -> Callable[[list[dict[str, Any]]], None]:
    """How a chunk of rows is written: a Core `insert(table)` executemany (default: the customer table).

    On SQLite the statement is compiled once and the rows go to the driver as tuples, each value passed through
    the column type's own bind processor (so what is stored is what SQLAlchemy would store): that skips
    SQLAlchemy's per-row parameter handling, which costs more than SQLite's insert itself."""
    table = Customer.__table__ if table is None else table
    stmt = insert(table)
    if conn.dialect.name != "sqlite":
        return lambda rows: conn.execute(stmt, rows)
    sql, getter, procs, other = "", None, [], {}

    def prepare(keys: list[str]) -> None:
        nonlocal sql, getter, procs, other
        # Columns the generator does not fill (added to the model later) get their Python default.
        other = {c.key: _default(c) for c in table.columns
                 if c.key not in keys and not c.primary_key and c.server_default is None}
        compiled = stmt.values({k: bindparam(k) for k in [*keys, *other]}).compile(dialect=conn.dialect)
        order = list(compiled.positiontup)
        getter = itemgetter(*order)
        procs = [(i, proc) for i, key in enumerate(order)
                 if (proc := table.c[key].type._cached_bind_processor(conn.dialect)) is not None
                 and not isinstance(table.c[key].type, Boolean)]  # the driver stores True/False as 1/0 itself
        sql = compiled.string

    def write(rows: list[dict[str, Any]]) -> None:
        if getter is None:
            prepare(list(rows[0]))
        params = []
        add = params.append
        for row in rows:
            if other:
                row.update(other)
            values = list(getter(row))
            for i, proc in procs:
                value = values[i]
                if value is not None:
                    values[i] = proc(value)
            add(tuple(values))
        conn.exec_driver_sql(sql, params)

    return write


def _default(column: Any) -> Any:
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)
    return None


def _fast_writes(conn: Any) -> Callable[[], None]:
    """SQLite: no fsync and a large page cache while the bulk insert runs (restored afterwards)."""
    if conn.dialect.name != "sqlite":
        return lambda: None
    sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA synchronous=OFF")
    conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB: ten indexes take random inserts
    conn.commit()

    def restore() -> None:
        conn.rollback()
        conn.exec_driver_sql(f"PRAGMA synchronous={int(sync)}")
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.commit()

    return restore


